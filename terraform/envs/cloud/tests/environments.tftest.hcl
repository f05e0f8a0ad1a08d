# staging and prod from their variable files, against a mocked OpenStack: hosts per group,
# security rules, anti-affinity, volume sizes, cloud-init, the inventory rendered from the mocked
# addresses in envs/local's shape. Prod differs from staging only where the tfvars say: each run
# asserts that what was built has its own file's values (read back from the modules, output
# `layout`) and that everything else is the same fixed expectation in both.
#   tofu -chdir=terraform/envs/cloud init -backend=false && tofu -chdir=terraform/envs/cloud test

mock_provider "openstack" {
  mock_resource "openstack_networking_floatingip_v2" {
    defaults = { address = "203.0.113.10" }
  }
  mock_resource "openstack_identity_ec2_credential_v3" {
    defaults = { access = "mock-access", secret = "mock-secret" }
  }
}

mock_provider "local" {}

variables {
  output_dir = "/tmp/cryptostream-tftest-cloud-generated"
  # backend.tf's state encryption wants one; the tests keep their state in memory.
  state_passphrase = "tftest-passphrase-not-a-secret"
}

# The two variable files. Both must set exactly the variables below (set an optional one in both
# files), which the staging and prod runs pass on.
run "tfvars" {
  module {
    source = "./tests/tfvars"
  }
  variables {
    forwarded = [
      "environment",
      "external_network_name",
      "image",
      "flavors",
      "kafka_broker_count",
      "kafka_replication_factor",
      "spark_worker_count",
      "volume_size_gb",
      "subnet_cidr",
      "admin_cidrs",
      "s3_endpoint",
    ]
  }
  assert {
    condition     = length(output.not_forwarded.staging) == 0 && length(output.not_forwarded.prod) == 0
    error_message = "the tfvars files and this test disagree on the variables set: ${jsonencode(output.not_forwarded)}"
  }
}

run "staging" {
  variables {
    environment              = run.tfvars.staging.environment
    external_network_name    = run.tfvars.staging.external_network_name
    image                    = run.tfvars.staging.image
    flavors                  = run.tfvars.staging.flavors
    kafka_broker_count       = run.tfvars.staging.kafka_broker_count
    kafka_replication_factor = run.tfvars.staging.kafka_replication_factor
    spark_worker_count       = run.tfvars.staging.spark_worker_count
    volume_size_gb           = run.tfvars.staging.volume_size_gb
    subnet_cidr              = run.tfvars.staging.subnet_cidr
    admin_cidrs              = run.tfvars.staging.admin_cidrs
    s3_endpoint              = run.tfvars.staging.s3_endpoint
  }

  # The key pair is made by ssh-keygen on apply; the test fixes it.
  override_module {
    target = module.ssh_key
    outputs = {
      private_key_file = "/tmp/cryptostream-tftest-cloud-ssh/id_ed25519"
      public_key       = "ssh-ed25519 AAAAtest ansible@tftest"
      known_hosts_file = "/tmp/cryptostream-tftest-cloud-ssh/known_hosts"
    }
  }

  assert {
    condition = jsonencode({
      environment              = output.layout.environment
      external_network_name    = output.layout.external_network_name
      image                    = output.layout.image
      flavors                  = output.layout.flavors
      kafka_broker_count       = output.layout.kafka_broker_count
      kafka_replication_factor = output.layout.kafka_replication_factor
      spark_worker_count       = output.layout.spark_worker_count
      volume_size_gb           = output.layout.volume_size_gb
      subnet_cidr              = output.layout.subnet_cidr
      admin_cidrs              = sort(output.layout.admin_cidrs)
      s3_endpoint              = output.layout.s3_endpoint
      }) == jsonencode({
      environment              = var.environment
      external_network_name    = var.external_network_name
      image                    = var.image
      flavors                  = var.flavors
      kafka_broker_count       = var.kafka_broker_count
      kafka_replication_factor = var.kafka_replication_factor
      spark_worker_count       = var.spark_worker_count
      volume_size_gb           = var.volume_size_gb
      subnet_cidr              = var.subnet_cidr
      admin_cidrs              = sort(var.admin_cidrs)
      s3_endpoint              = var.s3_endpoint
    })
    error_message = "what was built differs from ${var.environment}.tfvars.json: ${jsonencode(output.layout)}"
  }
  assert {
    condition = { for group, body in module.inventory.inventory.all.children : group => length(try(body.hosts, {})) if group != "spark" } == {
      kafka = var.kafka_broker_count, spark_master = 1, spark_workers = var.spark_worker_count, clickhouse = 1, object_storage = 0, app = 1
    }
    error_message = "hosts per group: the tfvars' brokers and workers, one Spark master, ClickHouse and app host, no object storage host"
  }
  assert {
    condition = alltrue([for rule in values(module.network.ingress_rules) :
    !contains(["0.0.0.0/0", "::/0"], coalesce(rule.remote_ip_prefix, "group"))])
    error_message = "no port may be open to the world"
  }
  assert {
    condition = toset([for rule in values(module.network.ingress_rules) : rule.remote_ip_prefix
    if rule.port_min <= 22 && 22 <= rule.port_max]) == toset(var.admin_cidrs)
    error_message = "SSH must be open to the admin CIDRs only"
  }
  assert {
    condition = {
      for sg_port in [
        ["node", 22], ["kafka", local.topology.kafka.port], ["kafka", local.topology.kafka.controller_port],
        ["spark", local.topology.spark.master_port], ["spark", local.topology.spark.master_ui_port],
        ["spark", local.topology.spark.worker_ui_port], ["spark", 40000], ["app", 40000],
        ["clickhouse", local.topology.clickhouse.http_port],
        ] : "${sg_port[0]}:${sg_port[1]}" => toset([
          for rule in values(module.network.ingress_rules) : coalesce(rule.remote_group, rule.remote_ip_prefix)
          if rule.security_group == sg_port[0] && rule.port_min <= sg_port[1] && sg_port[1] <= rule.port_max
      ])
      } == {
      "node:22"                                           = toset(var.admin_cidrs)
      "kafka:${local.topology.kafka.port}"                = toset(["app", "spark", "kafka"])
      "kafka:${local.topology.kafka.controller_port}"     = toset(["kafka"])
      "spark:${local.topology.spark.master_port}"         = toset(["spark", "app"])
      "spark:${local.topology.spark.master_ui_port}"      = toset(["spark", "app"])
      "spark:${local.topology.spark.worker_ui_port}"      = toset(["spark", "app"])
      "spark:40000"                                       = toset(["spark", "app"])
      "app:40000"                                         = toset(["spark"])
      "clickhouse:${local.topology.clickhouse.http_port}" = toset(concat(["app"], var.admin_cidrs))
    }
    error_message = "each port is open to the roles that use it, and only to them (ClickHouse HTTP also to the admin CIDRs)"
  }
  assert {
    condition     = length(module.network.ingress_rules) == 14 + 2 * length(var.admin_cidrs)
    error_message = "nothing but the pipeline's ports may be open"
  }
  assert {
    condition = { for group, server_group in module.nodes.server_groups : group => server_group.policies } == {
      kafka = tolist(["anti-affinity"]), spark_workers = tolist(["anti-affinity"])
    }
    error_message = "brokers and workers need anti-affinity server groups"
  }
  assert {
    condition = alltrue([for instance in values(module.nodes.instances) :
    (instance.server_group != null) == contains(["kafka", "spark_workers"], instance.group)])
    error_message = "every broker and worker is scheduled in its group's server group"
  }
  assert {
    condition = { for name, volume in module.nodes.data_volumes : name => [volume.size_gb, volume.mount_path] } == merge(
      { for i in range(var.kafka_broker_count) : "cryptostream-${var.environment}-kafka-${i + 1}" => [var.volume_size_gb.kafka, "/var/lib/kafka"] },
      { "cryptostream-${var.environment}-clickhouse-1" = [var.volume_size_gb.clickhouse, "/var/lib/clickhouse"] },
    )
    error_message = "a data volume of the tfvars' size per broker and for ClickHouse, none elsewhere"
  }
  assert {
    condition = jsonencode(output.layout.user_data_keys) == jsonencode({
      kafka         = [["bootcmd", "mounts", "packages", "ssh_authorized_keys"]]
      clickhouse    = [["bootcmd", "mounts", "packages", "ssh_authorized_keys"]]
      spark_master  = [["packages", "ssh_authorized_keys"]]
      spark_workers = [["packages", "ssh_authorized_keys"]]
      app           = [["packages", "ssh_authorized_keys"]]
    })
    error_message = "cloud-init: the SSH key, python3 and the data volume's mount, nothing else"
  }
  assert {
    condition = alltrue([for group in values(module.inventory.inventory.all.children) : alltrue([
      for host in values(try(group.hosts, {})) : host.ansible_host == "203.0.113.10" && host.ansible_port == 22
    ])])
    error_message = "the inventory's ansible_host is each host's (mocked) floating IP"
  }
  assert {
    condition = { for name, host in module.inventory.inventory.all.children.kafka.hosts : name => host.private_address } == {
      for i in range(var.kafka_broker_count) : "cryptostream-${var.environment}-kafka-${i + 1}" => cidrhost(var.subnet_cidr, 16 + i)
    }
    error_message = "the brokers' private addresses are the subnet's 16, 17, ..."
  }
  assert {
    condition     = module.inventory.inventory.all.children.app.hosts["cryptostream-${var.environment}-app-1"].private_address == cidrhost(var.subnet_cidr, 80)
    error_message = "the app host's private address is the subnet's 80"
  }
  assert {
    condition = toset(keys(module.inventory.inventory.all.children)) == toset(
    ["kafka", "spark_master", "spark_workers", "spark", "clickhouse", "object_storage", "app"])
    error_message = "inventory groups differ from envs/local's (what ansible/deploy.yml targets)"
  }
  assert {
    condition     = module.inventory.inventory.all.children.spark.children == { spark_master = {}, spark_workers = {} }
    error_message = "spark must be the parent of spark_master and spark_workers"
  }
  assert {
    condition     = output.layout.host_vars == tolist(["ansible_host ansible_port private_address"])
    error_message = "every host has exactly ansible_host, ansible_port and private_address, as in envs/local"
  }
  assert {
    condition = alltrue([for key in ["cryptostream_env", "kafka_security_profile", "common_apt_proxy", "ansible_user", "ansible_ssh_private_key_file", "ansible_ssh_common_args", "ansible_python_interpreter"] :
    contains(keys(module.inventory.inventory.all.vars), key)])
    error_message = "all.vars must carry what envs/local's does"
  }
  assert {
    condition = (module.inventory.inventory.all.vars.s3_endpoint == var.s3_endpoint
      && module.inventory.inventory.all.vars.checkpoint_bucket == "cryptostream-checkpoints-${var.environment}"
      && module.inventory.inventory.all.vars.node_address == "{{ private_address }}"
      && module.inventory.inventory.all.vars.ansible_user == "debian"
    && module.inventory.inventory.all.vars.kafka_security_profile == "sasl_ssl")
    error_message = "all.vars: the cloud's S3 endpoint and bucket, node_address = the private address, the image's user, TLS for Kafka"
  }
  assert {
    condition     = jsonencode(yamldecode(module.inventory.yaml)) == jsonencode(module.inventory.inventory)
    error_message = "the inventory file must hold the inventory"
  }
  assert {
    condition     = !strcontains(module.inventory.yaml, "mock-secret") && !strcontains(jsonencode(output.endpoints), "mock-secret")
    error_message = "the S3 secret must be in neither the inventory nor the endpoints"
  }
}

run "prod" {
  variables {
    environment              = run.tfvars.prod.environment
    external_network_name    = run.tfvars.prod.external_network_name
    image                    = run.tfvars.prod.image
    flavors                  = run.tfvars.prod.flavors
    kafka_broker_count       = run.tfvars.prod.kafka_broker_count
    kafka_replication_factor = run.tfvars.prod.kafka_replication_factor
    spark_worker_count       = run.tfvars.prod.spark_worker_count
    volume_size_gb           = run.tfvars.prod.volume_size_gb
    subnet_cidr              = run.tfvars.prod.subnet_cidr
    admin_cidrs              = run.tfvars.prod.admin_cidrs
    s3_endpoint              = run.tfvars.prod.s3_endpoint
  }

  # The key pair is made by ssh-keygen on apply; the test fixes it.
  override_module {
    target = module.ssh_key
    outputs = {
      private_key_file = "/tmp/cryptostream-tftest-cloud-ssh/id_ed25519"
      public_key       = "ssh-ed25519 AAAAtest ansible@tftest"
      known_hosts_file = "/tmp/cryptostream-tftest-cloud-ssh/known_hosts"
    }
  }

  assert {
    condition = jsonencode({
      environment              = output.layout.environment
      external_network_name    = output.layout.external_network_name
      image                    = output.layout.image
      flavors                  = output.layout.flavors
      kafka_broker_count       = output.layout.kafka_broker_count
      kafka_replication_factor = output.layout.kafka_replication_factor
      spark_worker_count       = output.layout.spark_worker_count
      volume_size_gb           = output.layout.volume_size_gb
      subnet_cidr              = output.layout.subnet_cidr
      admin_cidrs              = sort(output.layout.admin_cidrs)
      s3_endpoint              = output.layout.s3_endpoint
      }) == jsonencode({
      environment              = var.environment
      external_network_name    = var.external_network_name
      image                    = var.image
      flavors                  = var.flavors
      kafka_broker_count       = var.kafka_broker_count
      kafka_replication_factor = var.kafka_replication_factor
      spark_worker_count       = var.spark_worker_count
      volume_size_gb           = var.volume_size_gb
      subnet_cidr              = var.subnet_cidr
      admin_cidrs              = sort(var.admin_cidrs)
      s3_endpoint              = var.s3_endpoint
    })
    error_message = "what was built differs from ${var.environment}.tfvars.json: ${jsonencode(output.layout)}"
  }
  assert {
    condition = { for group, body in module.inventory.inventory.all.children : group => length(try(body.hosts, {})) if group != "spark" } == {
      kafka = var.kafka_broker_count, spark_master = 1, spark_workers = var.spark_worker_count, clickhouse = 1, object_storage = 0, app = 1
    }
    error_message = "hosts per group: the tfvars' brokers and workers, one Spark master, ClickHouse and app host, no object storage host"
  }
  assert {
    condition = alltrue([for rule in values(module.network.ingress_rules) :
    !contains(["0.0.0.0/0", "::/0"], coalesce(rule.remote_ip_prefix, "group"))])
    error_message = "no port may be open to the world"
  }
  assert {
    condition = toset([for rule in values(module.network.ingress_rules) : rule.remote_ip_prefix
    if rule.port_min <= 22 && 22 <= rule.port_max]) == toset(var.admin_cidrs)
    error_message = "SSH must be open to the admin CIDRs only"
  }
  assert {
    condition = {
      for sg_port in [
        ["node", 22], ["kafka", local.topology.kafka.port], ["kafka", local.topology.kafka.controller_port],
        ["spark", local.topology.spark.master_port], ["spark", local.topology.spark.master_ui_port],
        ["spark", local.topology.spark.worker_ui_port], ["spark", 40000], ["app", 40000],
        ["clickhouse", local.topology.clickhouse.http_port],
        ] : "${sg_port[0]}:${sg_port[1]}" => toset([
          for rule in values(module.network.ingress_rules) : coalesce(rule.remote_group, rule.remote_ip_prefix)
          if rule.security_group == sg_port[0] && rule.port_min <= sg_port[1] && sg_port[1] <= rule.port_max
      ])
      } == {
      "node:22"                                           = toset(var.admin_cidrs)
      "kafka:${local.topology.kafka.port}"                = toset(["app", "spark", "kafka"])
      "kafka:${local.topology.kafka.controller_port}"     = toset(["kafka"])
      "spark:${local.topology.spark.master_port}"         = toset(["spark", "app"])
      "spark:${local.topology.spark.master_ui_port}"      = toset(["spark", "app"])
      "spark:${local.topology.spark.worker_ui_port}"      = toset(["spark", "app"])
      "spark:40000"                                       = toset(["spark", "app"])
      "app:40000"                                         = toset(["spark"])
      "clickhouse:${local.topology.clickhouse.http_port}" = toset(concat(["app"], var.admin_cidrs))
    }
    error_message = "each port is open to the roles that use it, and only to them (ClickHouse HTTP also to the admin CIDRs)"
  }
  assert {
    condition     = length(module.network.ingress_rules) == 14 + 2 * length(var.admin_cidrs)
    error_message = "nothing but the pipeline's ports may be open"
  }
  assert {
    condition = { for group, server_group in module.nodes.server_groups : group => server_group.policies } == {
      kafka = tolist(["anti-affinity"]), spark_workers = tolist(["anti-affinity"])
    }
    error_message = "brokers and workers need anti-affinity server groups"
  }
  assert {
    condition = alltrue([for instance in values(module.nodes.instances) :
    (instance.server_group != null) == contains(["kafka", "spark_workers"], instance.group)])
    error_message = "every broker and worker is scheduled in its group's server group"
  }
  assert {
    condition = { for name, volume in module.nodes.data_volumes : name => [volume.size_gb, volume.mount_path] } == merge(
      { for i in range(var.kafka_broker_count) : "cryptostream-${var.environment}-kafka-${i + 1}" => [var.volume_size_gb.kafka, "/var/lib/kafka"] },
      { "cryptostream-${var.environment}-clickhouse-1" = [var.volume_size_gb.clickhouse, "/var/lib/clickhouse"] },
    )
    error_message = "a data volume of the tfvars' size per broker and for ClickHouse, none elsewhere"
  }
  assert {
    condition = jsonencode(output.layout.user_data_keys) == jsonencode({
      kafka         = [["bootcmd", "mounts", "packages", "ssh_authorized_keys"]]
      clickhouse    = [["bootcmd", "mounts", "packages", "ssh_authorized_keys"]]
      spark_master  = [["packages", "ssh_authorized_keys"]]
      spark_workers = [["packages", "ssh_authorized_keys"]]
      app           = [["packages", "ssh_authorized_keys"]]
    })
    error_message = "cloud-init: the SSH key, python3 and the data volume's mount, nothing else"
  }
  assert {
    condition = alltrue([for group in values(module.inventory.inventory.all.children) : alltrue([
      for host in values(try(group.hosts, {})) : host.ansible_host == "203.0.113.10" && host.ansible_port == 22
    ])])
    error_message = "the inventory's ansible_host is each host's (mocked) floating IP"
  }
  assert {
    condition = { for name, host in module.inventory.inventory.all.children.kafka.hosts : name => host.private_address } == {
      for i in range(var.kafka_broker_count) : "cryptostream-${var.environment}-kafka-${i + 1}" => cidrhost(var.subnet_cidr, 16 + i)
    }
    error_message = "the brokers' private addresses are the subnet's 16, 17, ..."
  }
  assert {
    condition     = module.inventory.inventory.all.children.app.hosts["cryptostream-${var.environment}-app-1"].private_address == cidrhost(var.subnet_cidr, 80)
    error_message = "the app host's private address is the subnet's 80"
  }
  assert {
    condition = toset(keys(module.inventory.inventory.all.children)) == toset(
    ["kafka", "spark_master", "spark_workers", "spark", "clickhouse", "object_storage", "app"])
    error_message = "inventory groups differ from envs/local's (what ansible/deploy.yml targets)"
  }
  assert {
    condition     = module.inventory.inventory.all.children.spark.children == { spark_master = {}, spark_workers = {} }
    error_message = "spark must be the parent of spark_master and spark_workers"
  }
  assert {
    condition     = output.layout.host_vars == tolist(["ansible_host ansible_port private_address"])
    error_message = "every host has exactly ansible_host, ansible_port and private_address, as in envs/local"
  }
  assert {
    condition = alltrue([for key in ["cryptostream_env", "kafka_security_profile", "common_apt_proxy", "ansible_user", "ansible_ssh_private_key_file", "ansible_ssh_common_args", "ansible_python_interpreter"] :
    contains(keys(module.inventory.inventory.all.vars), key)])
    error_message = "all.vars must carry what envs/local's does"
  }
  assert {
    condition = (module.inventory.inventory.all.vars.s3_endpoint == var.s3_endpoint
      && module.inventory.inventory.all.vars.checkpoint_bucket == "cryptostream-checkpoints-${var.environment}"
      && module.inventory.inventory.all.vars.node_address == "{{ private_address }}"
      && module.inventory.inventory.all.vars.ansible_user == "debian"
    && module.inventory.inventory.all.vars.kafka_security_profile == "sasl_ssl")
    error_message = "all.vars: the cloud's S3 endpoint and bucket, node_address = the private address, the image's user, TLS for Kafka"
  }
  assert {
    condition     = jsonencode(yamldecode(module.inventory.yaml)) == jsonencode(module.inventory.inventory)
    error_message = "the inventory file must hold the inventory"
  }
  assert {
    condition     = !strcontains(module.inventory.yaml, "mock-secret") && !strcontains(jsonencode(output.endpoints), "mock-secret")
    error_message = "the S3 secret must be in neither the inventory nor the endpoints"
  }
}
