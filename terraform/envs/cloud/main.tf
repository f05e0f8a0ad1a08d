# A cloud environment on OpenStack: the same hosts, groups and inventory as envs/local, made of
# VMs instead of containers. One root for every cloud environment; what differs between them is
# only in <env>.tfvars.json (counts, flavors, volume sizes, CIDRs, the cloud's names), and each
# has its own state (<env>.s3.tfbackend). Terraform makes the network, the security groups, the
# hosts, the checkpoint bucket and its S3 credentials, and writes the inventory;
# ansible/deploy.yml makes services out of the hosts, over SSH, exactly as for envs/local.
#
#   tofu init -reconfigure -backend-config=staging.s3.tfbackend
#   tofu apply -var-file=staging.tfvars.json

locals {
  repo_root = abspath("${path.module}/../../..")
  topology  = yamldecode(file("${local.repo_root}/runtime/topology.yaml"))

  name_prefix       = "cryptostream-${var.environment}"
  checkpoint_bucket = coalesce(var.checkpoint_bucket, "${local.topology.object_storage.checkpoint_bucket}-${var.environment}")
  ssh_key_dir       = coalesce(var.ssh_key_dir, pathexpand("~/.cache/cryptostream/ssh/${local.name_prefix}"))
  output_dir        = coalesce(var.output_dir, "${path.module}/generated/${var.environment}")

  # The inventory groups of envs/local. object_storage stays empty: the cloud's S3 replaces
  # LocalStack. address_block: a host's private address is the subnet's 16 * block + index.
  groups = {
    kafka = {
      host_name      = "kafka", count = var.kafka_broker_count, flavor = var.flavors.kafka, address_block = 1
      volume_size_gb = var.volume_size_gb.kafka, data_path = "/var/lib/kafka", anti_affinity = true
    }
    spark_master = {
      host_name = "spark-master", count = 1, flavor = var.flavors.spark_master, address_block = 2
    }
    spark_workers = {
      host_name     = "spark-worker", count = var.spark_worker_count, flavor = var.flavors.spark_workers, address_block = 3
      anti_affinity = true
    }
    clickhouse = {
      host_name      = "clickhouse", count = 1, flavor = var.flavors.clickhouse, address_block = 4
      volume_size_gb = var.volume_size_gb.clickhouse, data_path = "/var/lib/clickhouse"
    }
    app = {
      host_name = "app", count = 1, flavor = var.flavors.app, address_block = 5
    }
  }
  inventory_groups = ["kafka", "spark_master", "spark_workers", "clickhouse", "object_storage", "app"]
}

module "network" {
  source                  = "../../modules/openstack_network"
  name_prefix             = local.name_prefix
  subnet_cidr             = var.subnet_cidr
  dns_nameservers         = var.dns_nameservers
  external_network_name   = var.external_network_name
  admin_cidrs             = var.admin_cidrs
  allow_ssh_from_anywhere = var.allow_ssh_from_anywhere
  spark_dynamic_ports     = var.spark_dynamic_ports
  ports = {
    kafka_client     = local.topology.kafka.port
    kafka_controller = local.topology.kafka.controller_port
    spark_master     = local.topology.spark.master_port
    spark_master_ui  = local.topology.spark.master_ui_port
    spark_worker_ui  = local.topology.spark.worker_ui_port
    clickhouse_http  = local.topology.clickhouse.http_port
  }
}

module "ssh_key" {
  source    = "../../modules/ssh_key"
  directory = local.ssh_key_dir
  comment   = "ansible@${local.name_prefix}"
}

module "nodes" {
  source      = "../../modules/openstack_nodes"
  name_prefix = local.name_prefix
  groups = {
    for name, group in local.groups : name => merge(group, {
      image       = var.image
      volume_type = try(group.volume_size_gb, null) == null ? null : var.volume_type
    })
  }
  network_id           = module.network.network_id
  subnet_id            = module.network.subnet_id
  subnet_cidr          = module.network.subnet_cidr
  security_group_ids   = module.network.security_group_ids_by_host_group
  ssh_public_key       = module.ssh_key.public_key
  assign_floating_ips  = var.assign_floating_ips
  floating_ip_pool     = var.assign_floating_ips ? module.network.external_network_name : null
  anti_affinity_policy = var.anti_affinity_policy
  availability_zone    = var.availability_zone
  metadata             = { "cryptostream-env" = var.environment }
  known_hosts_file     = module.ssh_key.known_hosts_file
}

module "object_storage" {
  source        = "../../modules/openstack_object_storage"
  bucket_name   = local.checkpoint_bucket
  s3_endpoint   = var.s3_endpoint
  s3_region     = local.topology.object_storage.region
  force_destroy = var.force_destroy_bucket
}

module "inventory" {
  source               = "../../modules/inventory"
  hosts                = module.nodes.hosts
  parent_groups        = { spark = ["spark_master", "spark_workers"] }
  empty_groups         = local.inventory_groups
  ssh_user             = var.ssh_user
  ssh_private_key_file = module.ssh_key.private_key_file
  known_hosts_file     = module.ssh_key.known_hosts_file
  vars = merge(
    {
      cryptostream_env = var.environment
      # Which provider builds made the hosts: recorded in each deployment's manifest.
      provider_lock_sha256   = filesha256("${path.module}/.terraform.lock.hcl")
      kafka_security_profile = var.kafka_security_profile
      common_apt_proxy       = var.apt_proxy
      # The roles reach each other by node_address; host names do not resolve here, so every
      # host's is its own private address (templated per host by Ansible).
      node_address = "{{ private_address }}"
      # The image's user logs in; the plays that need root become it.
      ansible_become = true
      # The checkpoint store is the cloud's (the object_storage group is empty). Its credentials
      # are not here: they reach Ansible as secrets (terraform/README.md).
      s3_endpoint       = module.object_storage.endpoint
      s3_region         = module.object_storage.region
      checkpoint_bucket = module.object_storage.bucket
    },
    var.kafka_replication_factor == null ? {} : { kafka_replication_factor = var.kafka_replication_factor },
  )
}
