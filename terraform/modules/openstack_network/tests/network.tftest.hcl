# The security rules against a mocked OpenStack: exactly the ports the roles need, each from the
# security groups (or admin CIDRs) that use it, nothing to the world.
#   tofu -chdir=terraform/modules/openstack_network init && tofu -chdir=terraform/modules/openstack_network test

mock_provider "openstack" {}

# Fixture ports, all distinct (the envs pass runtime/topology.yaml's).
variables {
  name_prefix           = "tftest"
  subnet_cidr           = "10.20.0.0/24"
  external_network_name = "public"
  admin_cidrs           = ["198.51.100.7/32", "2001:db8::/64"]
  ports = {
    kafka_client     = 1001
    kafka_controller = 1002
    spark_master     = 1003
    spark_master_ui  = 1004
    spark_worker_ui  = 1005
    clickhouse_http  = 1006
  }
}

run "least_privilege" {
  assert {
    condition = alltrue([for rule in values(output.ingress_rules) :
    !contains(["0.0.0.0/0", "::/0"], coalesce(rule.remote_ip_prefix, "group"))])
    error_message = "no ingress rule may be open to the world unless allow_ssh_from_anywhere"
  }
  assert {
    condition = toset([for rule in values(output.ingress_rules) : rule.remote_ip_prefix
    if rule.port_min <= 22 && 22 <= rule.port_max]) == toset(var.admin_cidrs)
    error_message = "SSH must be open to the admin CIDRs and nothing else"
  }
  assert {
    condition = {
      for sg_port in [
        ["node", 22], ["kafka", 1001], ["kafka", 1002], ["spark", 1003], ["spark", 1004], ["spark", 1005],
        ["spark", 40000], ["clickhouse", 1006], ["app", 40000],
        ] : "${sg_port[0]}:${sg_port[1]}" => toset([
          for rule in values(output.ingress_rules) : coalesce(rule.remote_group, rule.remote_ip_prefix)
          if rule.security_group == sg_port[0] && rule.port_min <= sg_port[1] && sg_port[1] <= rule.port_max
      ])
      } == {
      "node:22"         = toset(var.admin_cidrs)
      "kafka:1001"      = toset(["app", "spark", "kafka"])
      "kafka:1002"      = toset(["kafka"])
      "spark:1003"      = toset(["spark", "app"])
      "spark:1004"      = toset(["spark", "app"])
      "spark:1005"      = toset(["spark", "app"])
      "spark:40000"     = toset(["spark", "app"])
      "clickhouse:1006" = toset(concat(["app"], var.admin_cidrs))
      "app:40000"       = toset(["spark"])
    }
    error_message = "a port is reachable from other sources than the roles that use it"
  }
  assert {
    condition     = length(output.ingress_rules) == 3 + 1 + 8 + 2 + 2 * 2
    error_message = "unexpected ingress rules: nothing beyond the pipeline's ports may be open"
  }
  assert {
    condition     = alltrue([for rule in values(output.ingress_rules) : rule.protocol == "tcp"])
    error_message = "only TCP is allowed in"
  }
  assert {
    condition     = alltrue([for group in values(openstack_networking_secgroup_v2.this) : group.delete_default_rules])
    error_message = "Neutron's default rules must be deleted (the rules here are all there is)"
  }
  assert {
    condition = output.egress_rules == {
      IPv4 = { security_group = "node", ethertype = "IPv4", remote_ip_prefix = "0.0.0.0/0" }
      IPv6 = { security_group = "node", ethertype = "IPv6", remote_ip_prefix = "::/0" }
    }
    error_message = "egress: all traffic allowed, on the node group"
  }
  assert {
    condition     = openstack_networking_secgroup_rule_v2.from_cidr["ssh-from-2001:db8::/64"].ethertype == "IPv6"
    error_message = "an IPv6 admin CIDR needs an IPv6 rule"
  }
  assert {
    condition     = output.allocation_pool.start == "10.20.0.128" && output.allocation_pool.end == "10.20.0.254"
    error_message = "Neutron's pool is the subnet's upper half"
  }
  assert {
    condition = output.security_group_ids_by_host_group.kafka == [output.security_group_ids.node, output.security_group_ids.kafka] && toset(keys(output.security_group_ids_by_host_group)) == toset(
    ["kafka", "spark_master", "spark_workers", "clickhouse", "app"])
    error_message = "every host is in the node group and its role's group"
  }
}

run "ssh_from_anywhere_only_when_asked" {
  variables {
    allow_ssh_from_anywhere = true
  }
  assert {
    condition = toset([for rule in values(output.ingress_rules) : rule.remote_ip_prefix
    if rule.port_min == 22]) == toset(concat(var.admin_cidrs, ["0.0.0.0/0", "::/0"]))
    error_message = "allow_ssh_from_anywhere opens SSH to the world"
  }
  assert {
    condition = alltrue([for rule in values(output.ingress_rules) :
    rule.port_min == 22 || !contains(["0.0.0.0/0", "::/0"], coalesce(rule.remote_ip_prefix, "group"))])
    error_message = "allow_ssh_from_anywhere opens nothing but SSH"
  }
}

run "the_example_plans" {
  module {
    source = "./examples/basic"
  }
  assert {
    condition     = length(output.security_group_ids_by_host_group) == 5
    error_message = "the example should give every inventory group its security groups"
  }
}

run "a_cidr_that_does_not_parse_is_refused" {
  command = plan
  variables {
    subnet_cidr = "10.20.0.0/33"
    admin_cidrs = ["198.51.100.7"]
  }
  expect_failures = [var.subnet_cidr, var.admin_cidrs]
}

run "a_small_subnet_is_refused" {
  command = plan
  variables {
    subnet_cidr = "10.20.0.0/25"
  }
  expect_failures = [var.subnet_cidr]
}

run "an_inverted_port_range_is_refused" {
  command = plan
  variables {
    spark_dynamic_ports = { from = 60999, to = 32768 }
  }
  expect_failures = [var.spark_dynamic_ports]
}
