locals {
  first_host = { for group in keys(local.groups) : group => try([for name, host in module.nodes.hosts : host if host.group == group][0], null) }

  endpoints = {
    environment       = var.environment
    clickhouse_url    = "http://${local.first_host.clickhouse.ansible_host}:${local.topology.clickhouse.http_port}"
    s3_endpoint       = module.object_storage.endpoint
    checkpoint_bucket = module.object_storage.bucket
    ssh_private_key   = module.ssh_key.private_key_file
    ssh               = { for name, host in module.nodes.hosts : name => "${var.ssh_user}@${host.ansible_host}" }
    inventory_file    = abspath(local_file.inventory.filename)
  }

  # What was built, read back from the modules, under the names of the variables that should
  # decide it: the tests compare it with <env>.tfvars.json, and staging's with prod's.
  layout = {
    environment           = trimprefix(module.inventory.inventory.all.vars.cryptostream_env, "cryptostream-")
    external_network_name = module.network.external_network_name
    image                 = one(distinct([for instance in values(module.nodes.instances) : instance.image]))
    flavors = {
      for group in keys(local.groups) : group => one(distinct([for instance in values(module.nodes.instances) : instance.flavor if instance.group == group]))
    }
    kafka_broker_count       = length([for host in values(module.nodes.hosts) : host if host.group == "kafka"])
    spark_worker_count       = length([for host in values(module.nodes.hosts) : host if host.group == "spark_workers"])
    kafka_replication_factor = try(module.inventory.inventory.all.vars.kafka_replication_factor, null)
    volume_size_gb = {
      for group in ["kafka", "clickhouse"] : group => one(distinct([
        for name, volume in module.nodes.data_volumes : volume.size_gb if module.nodes.hosts[name].group == group
      ]))
    }
    subnet_cidr             = module.network.subnet_cidr
    admin_cidrs             = sort(distinct([for rule in values(module.network.ingress_rules) : rule.remote_ip_prefix if rule.port_min == 22 && !contains(["0.0.0.0/0", "::/0"], rule.remote_ip_prefix)]))
    allow_ssh_from_anywhere = anytrue([for rule in values(module.network.ingress_rules) : rule.port_min == 22 && rule.remote_ip_prefix == "0.0.0.0/0"])
    assign_floating_ips     = length([for instance in values(module.nodes.instances) : instance if instance.floating_ip != null]) > 0
    s3_endpoint             = module.inventory.inventory.all.vars.s3_endpoint
    kafka_security_profile  = module.inventory.inventory.all.vars.kafka_security_profile
    # Decided by no variable: the same in every environment.
    hosts_per_fixed_group = { for group in ["spark_master", "clickhouse", "app", "object_storage"] : group => length(module.inventory.inventory.all.children[group].hosts) }
    inventory_groups      = sort(keys(module.inventory.inventory.all.children))
    group_ingress_rules   = { for name, rule in module.network.ingress_rules : name => rule if rule.remote_group != null }
    server_group_policies = { for group, server_group in module.nodes.server_groups : group => server_group.policies }
    data_paths            = { for group in ["kafka", "clickhouse"] : group => one(distinct([for name, volume in module.nodes.data_volumes : volume.mount_path if module.nodes.hosts[name].group == group])) }
    user_data_keys = {
      for group in keys(local.groups) : group => distinct([for name, text in module.nodes.user_data : sort(keys(yamldecode(text))) if module.nodes.hosts[name].group == group])
    }
    ssh_user  = module.inventory.inventory.all.vars.ansible_user
    host_vars = distinct(flatten([for group in values(module.inventory.inventory.all.children) : [for host in values(try(group.hosts, {})) : join(" ", sort(keys(host)))]]))
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
  description = "ClickHouse's URL (reachable from admin_cidrs), the S3 endpoint and bucket, and how to reach each host over SSH."
  value       = local.endpoints
}

output "hosts" {
  description = "Every host: name => {group, ansible_host, ansible_port, private_address}."
  value       = module.nodes.hosts
}

output "layout" {
  description = "What was built (counts, flavors, volume sizes, CIDRs, rules), under the names of the variables that decide it."
  value       = local.layout
}

output "s3_access_key_id" {
  description = "S3 access key id for the job's checkpoints: export AWS_ACCESS_KEY_ID=$(tofu output -raw s3_access_key_id)"
  value       = module.object_storage.access_key_id
  sensitive   = true
}

output "s3_secret_access_key" {
  description = "S3 secret key: export AWS_SECRET_ACCESS_KEY=$(tofu output -raw s3_secret_access_key)"
  value       = module.object_storage.secret_access_key
  sensitive   = true
}
