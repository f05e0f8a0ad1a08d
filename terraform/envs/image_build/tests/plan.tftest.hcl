# The build hosts' shape without a Docker engine: mocked providers, real module logic.
#   tofu -chdir=terraform/envs/image_build test

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

override_module {
  target  = module.network
  outputs = { name = "tftest", id = "net", gateway = "172.30.0.1" }
}

variables {
  ssh_key_dir = "/tmp/cryptostream-tftest-image-ssh"
  output_dir  = "/tmp/cryptostream-tftest-image"
}

run "one_build_host_in_the_kafka_group" {
  assert {
    condition     = keys(module.nodes.nodes) == ["cryptostream-image-build-kafka-1"]
    error_message = "expected one kafka build host"
  }
  assert {
    condition     = output.kafka_container == "cryptostream-image-build-kafka-1"
    error_message = "docker/build.sh commits the kafka build host"
  }
  assert {
    condition = toset(keys(module.inventory.inventory.all.children)) == toset(
    ["kafka", "spark_master", "spark_workers", "spark", "clickhouse", "object_storage", "app"])
    error_message = "the inventory keeps deploy.yml's groups, the others empty"
  }
  assert {
    condition     = module.inventory.inventory.all.vars.common_apt_proxy == "http://172.30.0.1:3142"
    error_message = "the build host's apt goes through the cache"
  }
}

run "an_unknown_group_is_refused" {
  command = plan
  variables {
    groups = ["zookeeper"]
  }
  expect_failures = [var.groups]
}
