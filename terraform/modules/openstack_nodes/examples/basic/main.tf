# The nodes module on the network module: a small cluster (one broker with a data volume, one
# Spark master and two workers spread over hypervisors, one app host). With OpenStack
# credentials (clouds.yaml and OS_CLOUD, or the OS_* variables of an openrc file):
#   tofu init && tofu plan -var external_network_name=<net> -var image=<Debian 12 image> -var flavor=<flavor>
# Without a cloud, modules/openstack_nodes/tests plans it against a mocked provider.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = ">= 3.4.0, < 4.0.0"
    }
  }
}

provider "openstack" {}

variable "external_network_name" {
  description = "The cloud's external network."
  type        = string
  default     = "public"
}

variable "image" {
  description = "A Debian 12 (bookworm) generic cloud image, by name."
  type        = string
  default     = "debian-12-generic-amd64"
}

variable "flavor" {
  description = "Flavor of every host."
  type        = string
  default     = "m1.medium"
}

variable "ssh_public_key" {
  description = "The key Ansible logs in with."
  type        = string
  default     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample example"
}

locals {
  topology = yamldecode(file("${path.module}/../../../../../runtime/topology.yaml"))
}

module "network" {
  source                = "../../../openstack_network"
  name_prefix           = "cryptostream-example"
  subnet_cidr           = "10.20.0.0/24"
  external_network_name = var.external_network_name
  admin_cidrs           = ["198.51.100.7/32"]
  ports = {
    kafka_client     = local.topology.kafka.port
    kafka_controller = local.topology.kafka.controller_port
    spark_master     = local.topology.spark.master_port
    spark_master_ui  = local.topology.spark.master_ui_port
    spark_worker_ui  = local.topology.spark.worker_ui_port
    clickhouse_http  = local.topology.clickhouse.http_port
  }
}

module "nodes" {
  source      = "../.."
  name_prefix = "cryptostream-example"
  groups = {
    kafka = {
      host_name      = "kafka", count = 1, flavor = var.flavor, image = var.image, address_block = 1
      volume_size_gb = 20, data_path = "/var/lib/kafka"
    }
    spark_master  = { host_name = "spark-master", count = 1, flavor = var.flavor, image = var.image, address_block = 2 }
    spark_workers = { host_name = "spark-worker", count = 2, flavor = var.flavor, image = var.image, address_block = 3, anti_affinity = true }
    app           = { host_name = "app", count = 1, flavor = var.flavor, image = var.image, address_block = 5 }
  }
  network_id         = module.network.network_id
  subnet_id          = module.network.subnet_id
  subnet_cidr        = module.network.subnet_cidr
  security_group_ids = module.network.security_group_ids_by_host_group
  ssh_public_key     = var.ssh_public_key
  floating_ip_pool   = module.network.external_network_name
}

output "hosts" {
  description = "The hosts, in the inventory module's shape."
  value       = module.nodes.hosts
}
