# Hosts, addresses, anti-affinity, volumes and user data against a mocked OpenStack.
#   tofu -chdir=terraform/modules/openstack_nodes init && tofu -chdir=terraform/modules/openstack_nodes test

mock_provider "openstack" {
  mock_resource "openstack_networking_floatingip_v2" {
    defaults = { address = "203.0.113.10" }
  }
}

variables {
  name_prefix = "tftest"
  groups = {
    kafka = {
      host_name      = "kafka", count = 3, flavor = "m1.large", image = "debian-12", address_block = 1
      volume_size_gb = 50, volume_type = "ssd", data_path = "/var/lib/kafka", anti_affinity = true
    }
    spark_workers = { host_name = "spark-worker", count = 2, flavor = "m1.xlarge", image = "debian-12", address_block = 3, anti_affinity = true }
    app           = { host_name = "app", count = 1, flavor = "m1.medium", image = "debian-12-other", address_block = 5 }
  }
  network_id  = "net"
  subnet_id   = "subnet"
  subnet_cidr = "10.20.0.0/24"
  security_group_ids = {
    kafka         = ["sg-node", "sg-kafka"]
    spark_workers = ["sg-node", "sg-spark"]
    app           = ["sg-node", "sg-app"]
  }
  ssh_public_key   = "ssh-ed25519 AAAAtest ansible@test"
  floating_ip_pool = "public"
}

run "hosts_addresses_and_groups" {
  assert {
    condition = { for name, host in output.hosts : name => [host.group, host.private_address] } == {
      "tftest-kafka-1"        = ["kafka", "10.20.0.16"]
      "tftest-kafka-2"        = ["kafka", "10.20.0.17"]
      "tftest-kafka-3"        = ["kafka", "10.20.0.18"]
      "tftest-spark-worker-1" = ["spark_workers", "10.20.0.48"]
      "tftest-spark-worker-2" = ["spark_workers", "10.20.0.49"]
      "tftest-app-1"          = ["app", "10.20.0.80"]
    }
    error_message = "hosts, groups or fixed addresses are wrong"
  }
  assert {
    condition     = alltrue([for host in values(output.hosts) : host.ansible_host == "203.0.113.10" && host.ansible_port == 22])
    error_message = "with floating IPs, Ansible reaches every host at its floating IP on port 22"
  }
  assert {
    condition     = openstack_networking_port_v2.node["tftest-spark-worker-1"].security_group_ids == toset(["sg-node", "sg-spark"])
    error_message = "a host's port carries its group's security groups"
  }
  assert {
    condition     = { for name, instance in output.instances : name => instance.flavor } == { "tftest-kafka-1" = "m1.large", "tftest-kafka-2" = "m1.large", "tftest-kafka-3" = "m1.large", "tftest-spark-worker-1" = "m1.xlarge", "tftest-spark-worker-2" = "m1.xlarge", "tftest-app-1" = "m1.medium" }
    error_message = "flavors per group not applied"
  }
  assert {
    condition     = length(data.openstack_images_image_v2.image) == 2 && data.openstack_images_image_v2.image["debian-12"].most_recent
    error_message = "one image lookup per image name"
  }
}

run "anti_affinity_for_brokers_and_workers" {
  assert {
    condition = { for group, server_group in output.server_groups : group => server_group.policies } == {
      kafka = tolist(["anti-affinity"]), spark_workers = tolist(["anti-affinity"])
    }
    error_message = "brokers and workers need anti-affinity server groups, and only they"
  }
  assert {
    condition = alltrue([for name, instance in output.instances :
    (instance.server_group != null) == contains(["kafka", "spark_workers"], instance.group)])
    error_message = "every broker and worker is scheduled in its server group"
  }
}

run "data_volumes_and_user_data" {
  assert {
    condition     = { for name, volume in output.data_volumes : name => [volume.size_gb, volume.mount_path] } == { for i in [1, 2, 3] : "tftest-kafka-${i}" => [50, "/var/lib/kafka"] }
    error_message = "each broker needs a 50 GB data volume at /var/lib/kafka, no other host one"
  }
  assert {
    condition     = alltrue([for volume in openstack_blockstorage_volume_v3.data : volume.volume_type == "ssd"])
    error_message = "volume_type not applied"
  }
  assert {
    condition = alltrue([for name, text in output.user_data :
      startswith(text, "#cloud-config\n") &&
      yamldecode(text).ssh_authorized_keys == [var.ssh_public_key] &&
      yamldecode(text).packages == ["python3"] &&
      toset(keys(yamldecode(text))) == toset(startswith(name, "tftest-kafka-")
        ? ["ssh_authorized_keys", "packages", "bootcmd", "mounts"]
    : ["ssh_authorized_keys", "packages"])])
    error_message = "user data: the SSH key, python3 and (on hosts with a data volume) its mount; nothing else"
  }
  assert {
    condition     = yamldecode(output.user_data["tftest-kafka-1"]).mounts[0][1] == "/var/lib/kafka" && startswith(yamldecode(output.user_data["tftest-kafka-1"]).mounts[0][0], "/dev/disk/by-id/virtio-")
    error_message = "the data volume is mounted by its serial at data_path"
  }
  assert {
    condition = alltrue([for name, instance in openstack_compute_instance_v2.node :
    length(instance.block_device) == (startswith(name, "tftest-kafka-") ? 2 : 1)])
    error_message = "a data volume is attached at boot, to its host only"
  }
  assert {
    condition = alltrue([for name, instance in openstack_compute_instance_v2.node :
    alltrue([for device in instance.block_device : device.delete_on_termination == (device.source_type == "image")])])
    error_message = "data volumes must survive their instance"
  }
}

run "replaced_hosts_are_forgotten" {
  variables {
    known_hosts_file = "/tmp/cryptostream-tftest-nodes/known_hosts"
  }
  assert {
    condition = { for name, host in terraform_data.known_host : name => host.input } == {
      for name, host in output.hosts : name => {
        known_hosts = "/tmp/cryptostream-tftest-nodes/known_hosts"
        addresses   = "${host.private_address} 203.0.113.10"
      }
    }
    error_message = "every host's addresses are removed from known_hosts when it is replaced or destroyed"
  }
}

run "without_floating_ips_ansible_uses_private_addresses" {
  variables {
    assign_floating_ips = false
    floating_ip_pool    = null
  }
  assert {
    condition     = alltrue([for host in values(output.hosts) : host.ansible_host == host.private_address])
    error_message = "without floating IPs ansible_host is the private address"
  }
  assert {
    condition     = length(openstack_networking_floatingip_v2.node) == 0
    error_message = "no floating IP may be allocated"
  }
}

run "soft_anti_affinity" {
  variables {
    anti_affinity_policy = "soft-anti-affinity"
  }
  assert {
    condition     = output.server_groups.kafka.policies == tolist(["soft-anti-affinity"])
    error_message = "anti_affinity_policy not applied"
  }
}

run "the_example_plans" {
  module {
    source = "./examples/basic"
  }
  assert {
    condition     = length(output.hosts) == 5
    error_message = "the example makes five hosts"
  }
}

run "bad_groups_are_refused" {
  command = plan
  variables {
    groups = {
      kafka = { host_name = "kafka", count = 17, flavor = "f", image = "i", address_block = 1, volume_size_gb = 0, data_path = "/d" }
      app   = { host_name = "app", count = 1, flavor = "f", image = "i", address_block = 1 }
    }
    anti_affinity_policy = "affinity"
  }
  expect_failures = [var.groups, var.anti_affinity_policy]
}
