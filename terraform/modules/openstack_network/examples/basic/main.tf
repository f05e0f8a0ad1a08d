# The network module alone, with the pipeline's ports from runtime/topology.yaml. With OpenStack
# credentials (clouds.yaml and OS_CLOUD, or the OS_* variables of an openrc file):
#   tofu init && tofu plan -var external_network_name=<your external network>
# Without a cloud, modules/openstack_network/tests plans it against a mocked provider.

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

variable "admin_cidrs" {
  description = "Where SSH and ClickHouse HTTP are allowed from."
  type        = list(string)
  default     = ["198.51.100.7/32"]
}

locals {
  topology = yamldecode(file("${path.module}/../../../../../runtime/topology.yaml"))
}

module "network" {
  source                = "../.."
  name_prefix           = "cryptostream-example"
  subnet_cidr           = "10.20.0.0/24"
  external_network_name = var.external_network_name
  admin_cidrs           = var.admin_cidrs
  ports = {
    kafka_client     = local.topology.kafka.port
    kafka_controller = local.topology.kafka.controller_port
    spark_master     = local.topology.spark.master_port
    spark_master_ui  = local.topology.spark.master_ui_port
    spark_worker_ui  = local.topology.spark.worker_ui_port
    clickhouse_http  = local.topology.clickhouse.http_port
  }
}

output "security_group_ids_by_host_group" {
  description = "Security groups per inventory group."
  value       = module.network.security_group_ids_by_host_group
}

output "ingress_rules" {
  description = "What the hosts accept."
  value       = module.network.ingress_rules
}
