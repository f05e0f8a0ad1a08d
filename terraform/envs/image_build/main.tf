# Build hosts for the images of the compose path (docker/build.sh): one plain Debian node per
# image, the same node image and module as envs/local, on which Ansible runs the role's install
# tasks only (ansible/image.yml); docker/build.sh then commits the node as the image's base. So
# how a component is installed (a broker: Java, the service user, the release's jars, the tools)
# exists once, in its role, for the nodes and for the compose images alike.

locals {
  repo_root  = abspath("${path.module}/../../..")
  images_env = file("${local.repo_root}/docker/images.env")

  # docker/images.env lines are NAME=${NAME:-default}; read the defaults, let variables win.
  image_prefix = one(regex("IMAGE_PREFIX=\\$\\{IMAGE_PREFIX:-([^}]+)\\}", local.images_env))
  image_tag    = one(regex("IMAGE_TAG=\\$\\{IMAGE_TAG:-([^}]+)\\}", local.images_env))
  node_image   = coalesce(var.node_image, "${local.image_prefix}/node:${local.image_tag}")

  labels = {
    "com.cryptostream.stack"      = var.name_prefix
    "com.cryptostream.managed-by" = "opentofu"
  }
  # One host per image, in the inventory group of the role that installs it.
  groups = {
    for group in var.groups : group => { host_name = replace(group, "_", "-"), count = 1, memory_mb = var.memory_mb }
  }
}

module "network" {
  source = "../../modules/network"
  name   = var.name_prefix
  labels = local.labels
}

module "ssh_key" {
  source    = "../../modules/ssh_key"
  directory = var.ssh_key_dir
  comment   = "ansible@${var.name_prefix}"
}

module "nodes" {
  source           = "../../modules/docker_nodes"
  name_prefix      = var.name_prefix
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
  empty_groups         = ["kafka", "spark_master", "spark_workers", "clickhouse", "object_storage", "app"]
  ssh_user             = "root"
  ssh_private_key_file = module.ssh_key.private_key_file
  known_hosts_file     = module.ssh_key.known_hosts_file
  vars = {
    cryptostream_env = var.name_prefix
    common_apt_proxy = var.apt_proxy_port == null ? "" : "http://${module.network.gateway}:${var.apt_proxy_port}"
  }
}

resource "local_file" "inventory" {
  filename        = "${var.output_dir}/inventory.yml"
  content         = module.inventory.yaml
  file_permission = "0644"
}

output "inventory_file" {
  description = "Ansible inventory of the build hosts: ansible-playbook -i <this> ansible/image.yml"
  value       = abspath(local_file.inventory.filename)
}

output "containers" {
  description = "The build host of each group: group => container name (docker commit takes it)."
  value       = { for name, node in module.nodes.nodes : node.group => name }
}

output "kafka_container" {
  description = "The kafka build host's container (docker/build.sh commits it); empty without one."
  value       = try([for name, node in module.nodes.nodes : name if node.group == "kafka"][0], "")
}
