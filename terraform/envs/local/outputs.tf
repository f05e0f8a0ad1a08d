locals {
  first = { for group in keys(local.groups) : group => try([for name, node in module.nodes.nodes : node if node.group == group][0], null) }

  endpoints = {
    stack           = local.name_prefix
    environment     = local.environment
    clickhouse_url  = "http://127.0.0.1:${local.first.clickhouse.ports[tostring(local.topology.clickhouse.http_port)]}"
    s3_endpoint     = "http://127.0.0.1:${local.first.object_storage.ports[tostring(local.topology.object_storage.port)]}"
    spark_master_ui = "http://127.0.0.1:${local.first.spark_master.ports[tostring(local.topology.spark.master_ui_port)]}"
    ssh_private_key = module.ssh_key.private_key_file
    ssh             = { for name, node in module.nodes.nodes : name => "root@${node.ssh_host} -p ${node.ssh_port}" }
    inventory_file  = abspath(local_file.inventory.filename)
  }
}

resource "local_file" "inventory" {
  filename        = "${local.output_dir}/inventory.yml"
  content         = module.inventory.yaml
  file_permission = "0644"
}

resource "local_file" "endpoints" {
  filename        = "${local.output_dir}/endpoints.json"
  content         = "${jsonencode(local.endpoints)}\n"
  file_permission = "0644"
}

output "inventory_file" {
  description = "Ansible inventory: ansible-playbook -i <this> ansible/deploy.yml"
  value       = abspath(local_file.inventory.filename)
}

output "endpoints" {
  description = "Addresses published on the host (127.0.0.1 only) and how to reach each node over SSH."
  value       = local.endpoints
}
