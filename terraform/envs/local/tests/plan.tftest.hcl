# The local env's shape without a Docker engine: mocked providers, real module logic.
#   tofu -chdir=terraform/envs/local test

mock_provider "docker" {
  mock_data "docker_image" {
    defaults = { id = "sha256:node" }
  }
  mock_resource "docker_container" {
    defaults = {
      network_data = [{ ip_address = "172.30.0.9", network_name = "net", gateway = "172.30.0.1",
        ip_prefix_length = 16, global_ipv6_address = "", global_ipv6_prefix_length = 0,
      ipv6_gateway = "", mac_address = "" }]
    }
  }
}

mock_provider "local" {
  mock_data "local_file" {
    defaults = { content = "ssh-ed25519 AAAAtest ansible@test\n" }
  }
}

# The network's gateway is computed by Docker; the test fixes it.
override_module {
  target  = module.network
  outputs = { name = "tftest", id = "net", gateway = "172.30.0.1" }
}

variables {
  name_prefix = "tftest"
  ssh_key_dir = "/tmp/cryptostream-tftest-ssh"
  output_dir  = "/tmp/cryptostream-tftest-generated"
}

run "nine_hosts_in_six_groups" {
  assert {
    condition     = length(module.nodes.nodes) == 9
    error_message = "expected 9 hosts"
  }
  assert {
    condition = { for group in ["kafka", "spark_master", "spark_workers", "clickhouse", "object_storage", "app"] :
      group => length([for node in values(module.nodes.nodes) : node if node.group == group])
    } == { kafka = 3, spark_master = 1, spark_workers = 2, clickhouse = 1, object_storage = 1, app = 1 }
    error_message = "wrong hosts per group"
  }
  assert {
    condition     = length(distinct([for node in values(module.nodes.nodes) : node.ssh_port])) == 9
    error_message = "every host needs its own SSH port"
  }
  assert {
    condition     = alltrue([for node in values(module.nodes.nodes) : node.ssh_host == "127.0.0.1"])
    error_message = "SSH must be published on the loopback address only"
  }
}

run "inventory_has_the_shape_deploy_yml_expects" {
  assert {
    condition = toset(keys(module.inventory.inventory.all.children)) == toset(
    ["kafka", "spark_master", "spark_workers", "spark", "clickhouse", "object_storage", "app"])
    error_message = "inventory groups differ from what ansible/deploy.yml targets"
  }
  assert {
    condition     = module.inventory.inventory.all.children.spark.children == { spark_master = {}, spark_workers = {} }
    error_message = "spark must be the parent of spark_master and spark_workers"
  }
  assert {
    condition = alltrue([for host in values(module.inventory.inventory.all.children.kafka.hosts) :
    host.ansible_host == "127.0.0.1" && host.ansible_port >= var.ssh_port_base])
    error_message = "every host needs ansible_host and its SSH port"
  }
  assert {
    condition     = module.inventory.inventory.all.vars.ansible_ssh_private_key_file == "/tmp/cryptostream-tftest-ssh/id_ed25519"
    error_message = "the inventory must name the environment's key"
  }
  assert {
    condition     = module.inventory.inventory.all.vars.common_apt_proxy == "http://172.30.0.1:3142"
    error_message = "the nodes' apt proxy is the gateway's apt cache"
  }
}

run "counts_and_profile_are_variables" {
  variables {
    kafka_broker_count     = 1
    spark_worker_count     = 3
    kafka_security_profile = "sasl_ssl"
    apt_proxy_port         = null
  }
  assert {
    condition     = length(module.inventory.inventory.all.children.kafka.hosts) == 1 && length(module.inventory.inventory.all.children.spark_workers.hosts) == 3
    error_message = "counts not applied"
  }
  assert {
    condition     = module.inventory.inventory.all.vars.kafka_security_profile == "sasl_ssl" && module.inventory.inventory.all.vars.common_apt_proxy == ""
    error_message = "profile or apt proxy not handed to Ansible"
  }
}

run "service_ports_follow_the_offset" {
  variables {
    host_port_offset = 20000
  }
  assert {
    condition     = output.endpoints.clickhouse_url == "http://127.0.0.1:28123" && output.endpoints.spark_master_ui == "http://127.0.0.1:28080"
    error_message = "published ports are topology.yaml's plus the offset"
  }
}

run "an_even_quorum_is_refused" {
  command = plan
  variables {
    kafka_broker_count = 2
  }
  expect_failures = [var.kafka_broker_count]
}

run "an_unknown_profile_is_refused" {
  command = plan
  variables {
    kafka_security_profile = "tls"
  }
  expect_failures = [var.kafka_security_profile]
}

run "the_environment_is_named_in_the_inventory" {
  assert {
    condition     = module.inventory.inventory.all.vars.cryptostream_env == "local" && output.endpoints.environment == "local"
    error_message = "the default workspace's environment is \"local\""
  }
  assert {
    condition     = can(regex("^[0-9a-f]{64}$", module.inventory.inventory.all.vars.provider_lock_sha256))
    error_message = "the inventory must carry the provider lock file's sha256 for the deployment manifest"
  }
}

run "a_named_environment_gets_its_own_prefix_and_output" {
  variables {
    environment = "local-staging"
    name_prefix = null
    output_dir  = null
  }
  assert {
    condition     = module.inventory.inventory.all.vars.cryptostream_env == "local-staging" && output.endpoints.stack == "cryptostream-local-staging"
    error_message = "environment names the inventory and the resources"
  }
  assert {
    condition     = endswith(output.inventory_file, "generated/local-staging/inventory.yml")
    error_message = "each environment writes its own inventory"
  }
}
