# Nine plain Debian hosts on the local Docker engine, the stand-ins of cloud VMs: 3 Kafka brokers
# (the KRaft quorum), a Spark master, 2 Spark workers, ClickHouse, object storage (LocalStack) and
# an app host (producer + the job's driver). Terraform makes the hosts, the network and the SSH
# key and writes the inventory; ansible/deploy.yml makes services out of the hosts, over SSH.

locals {
  # The environment's name: var.environment, else the workspace's ("local" for the default one).
  # One state per workspace, so several local environments live side by side on one Docker
  # engine: `make infra-apply ENV=local-staging` selects workspace local-staging and reads
  # local-staging.tfvars (Makefile).
  environment = coalesce(var.environment, terraform.workspace == "default" ? "local" : terraform.workspace)
  name_prefix = coalesce(var.name_prefix, "cryptostream-${local.environment}")

  repo_root  = abspath("${path.module}/../../..")
  topology   = yamldecode(file("${local.repo_root}/runtime/topology.yaml"))
  images_env = file("${local.repo_root}/docker/images.env")

  # docker/images.env lines are NAME=${NAME:-default}; read the defaults, let variables win.
  image_prefix = one(regex("IMAGE_PREFIX=\\$\\{IMAGE_PREFIX:-([^}]+)\\}", local.images_env))
  image_tag    = one(regex("IMAGE_TAG=\\$\\{IMAGE_TAG:-([^}]+)\\}", local.images_env))
  node_image   = coalesce(var.node_image, "${local.image_prefix}/node:${local.image_tag}")

  offset      = var.host_port_offset
  ssh_key_dir = coalesce(var.ssh_key_dir, pathexpand("~/.cache/cryptostream/ssh/${local.name_prefix}"))
  output_dir  = coalesce(var.output_dir, "${path.module}/generated/${local.environment}")

  labels = {
    "com.cryptostream.stack"      = local.name_prefix
    "com.cryptostream.managed-by" = "opentofu"
  }

  groups = {
    kafka = {
      host_name = "kafka", count = var.kafka_broker_count, memory_mb = var.memory_mb.kafka
      data_path = "/var/lib/kafka"
    }
    spark_master = {
      host_name = "spark-master", count = 1, memory_mb = var.memory_mb.spark_master
      ports     = { (local.topology.spark.master_ui_port) = local.topology.spark.master_ui_port + local.offset }
    }
    spark_workers = {
      host_name = "spark-worker", count = var.spark_worker_count, memory_mb = var.memory_mb.spark_workers
    }
    clickhouse = {
      host_name = "clickhouse", count = 1, memory_mb = var.memory_mb.clickhouse
      data_path = "/var/lib/clickhouse"
      ports     = { (local.topology.clickhouse.http_port) = local.topology.clickhouse.http_port + local.offset }
    }
    object_storage = {
      host_name = "object-storage", count = 1, memory_mb = var.memory_mb.object_storage
      ports     = { (local.topology.object_storage.port) = local.topology.object_storage.port + local.offset }
    }
    app = {
      host_name = "app", count = 1, memory_mb = var.memory_mb.app
    }
  }
}

module "network" {
  source = "../../modules/network"
  name   = local.name_prefix
  labels = local.labels
}

module "ssh_key" {
  source    = "../../modules/ssh_key"
  directory = local.ssh_key_dir
  comment   = "ansible@${local.name_prefix}"
}

module "nodes" {
  source           = "../../modules/docker_nodes"
  name_prefix      = local.name_prefix
  network_name     = module.network.name
  image            = local.node_image
  groups           = local.groups
  ssh_public_key   = module.ssh_key.public_key
  ssh_port_base    = var.ssh_port_base
  known_hosts_file = module.ssh_key.known_hosts_file
  labels           = local.labels
}

module "inventory" {
  source = "../../modules/inventory"
  hosts = {
    for name, node in module.nodes.nodes : name => {
      group           = node.group
      ansible_host    = node.ssh_host
      ansible_port    = node.ssh_port
      private_address = node.private_address
    }
  }
  parent_groups        = { spark = ["spark_master", "spark_workers"] }
  empty_groups         = keys(local.groups)
  ssh_user             = "root"
  ssh_private_key_file = module.ssh_key.private_key_file
  known_hosts_file     = module.ssh_key.known_hosts_file
  vars = {
    cryptostream_env = local.environment
    # Which provider builds made the hosts: recorded in each deployment's manifest.
    provider_lock_sha256   = filesha256("${path.module}/.terraform.lock.hcl")
    kafka_security_profile = var.kafka_security_profile
    # The Kafka CA and certificates (sasl_ssl) next to the SSH key: destroyed with it.
    kafka_pki_dir    = "${local.ssh_key_dir}/pki"
    common_apt_proxy = var.apt_proxy_port == null ? "" : "http://${module.network.gateway}:${var.apt_proxy_port}"
  }
}
