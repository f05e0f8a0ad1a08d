# The environment's private network on OpenStack: a network, an IPv4 subnet, a router to the
# cloud's external network, and security groups with least privilege. Every host gets the `node`
# group (SSH from the admin CIDRs, all egress) and its role's group; a role's ports are open only
# to the security groups of the roles that use them, never to an address range, except SSH and
# ClickHouse HTTP from admin_cidrs. Nothing is open to 0.0.0.0/0 unless allow_ssh_from_anywhere.

data "openstack_networking_network_v2" "external" {
  name     = var.external_network_name
  external = true
}

locals {
  prefix_length = tonumber(split("/", var.subnet_cidr)[1])
  # The lower half of the subnet is for the hosts' fixed addresses; Neutron allocates the rest.
  pool_start = pow(2, 32 - local.prefix_length) / 2

  world       = ["0.0.0.0/0", "::/0"]
  ssh_sources = distinct(concat(var.admin_cidrs, var.allow_ssh_from_anywhere ? local.world : []))

  security_groups = {
    node       = "Every host: SSH from the admin CIDRs, all egress."
    kafka      = "Kafka brokers (KRaft combined mode): client port from the app, Spark and the brokers; controller port among the brokers."
    spark      = "Spark master and workers: master, UIs and Spark's dynamic ports from the Spark hosts and the app host."
    clickhouse = "ClickHouse: HTTP from the app host and the admin CIDRs."
    app        = "App host (producer, the job's driver): Spark's dynamic ports from the Spark hosts (executors and the master call the driver)."
  }

  # Which security groups each inventory group's hosts are in.
  host_groups = {
    kafka         = ["node", "kafka"]
    spark_master  = ["node", "spark"]
    spark_workers = ["node", "spark"]
    clickhouse    = ["node", "clickhouse"]
    app           = ["node", "app"]
  }

  spark_fixed_ports = {
    master    = var.ports.spark_master
    master-ui = var.ports.spark_master_ui
    worker-ui = var.ports.spark_worker_ui
  }

  # Ingress from other security groups: name => {group, ports, remote group, why}.
  group_rules = merge(
    {
      for remote in ["app", "spark", "kafka"] : "kafka-client-from-${remote}" => {
        security_group = "kafka", from = var.ports.kafka_client, to = var.ports.kafka_client, remote_group = remote
        description    = remote == "kafka" ? "Kafka replication (inter-broker traffic uses the client listener)" : "Kafka clients on the ${remote} hosts"
      }
    },
    {
      "kafka-controller-from-kafka" = {
        security_group = "kafka", from = var.ports.kafka_controller, to = var.ports.kafka_controller, remote_group = "kafka"
        description    = "KRaft controller quorum, among the brokers only"
      }
    },
    merge([
      for remote in ["spark", "app"] : merge(
        {
          for name, port in local.spark_fixed_ports : "spark-${name}-from-${remote}" => {
            security_group = "spark", from = port, to = port, remote_group = remote
            description    = "Spark ${name} port from the ${remote} hosts"
          }
        },
        {
          "spark-dynamic-from-${remote}" = {
            security_group = "spark", from = var.spark_dynamic_ports.from, to = var.spark_dynamic_ports.to, remote_group = remote
            description    = "Spark's randomly chosen ports (worker RPC, executors, block managers) from the ${remote} hosts"
          }
        },
      )
    ]...),
    {
      "app-dynamic-from-spark" = {
        security_group = "app", from = var.spark_dynamic_ports.from, to = var.spark_dynamic_ports.to, remote_group = "spark"
        description    = "The job's driver (RPC, block manager) from the master and the executors"
      }
      "clickhouse-http-from-app" = {
        security_group = "clickhouse", from = var.ports.clickhouse_http, to = var.ports.clickhouse_http, remote_group = "app"
        description    = "ClickHouse HTTP from the app host (the job's sink, the bootstrap's migrations)"
      }
    },
  )

  # Ingress from address ranges: SSH and ClickHouse HTTP from the admin CIDRs only.
  cidr_rules = merge(
    {
      for cidr in local.ssh_sources : "ssh-from-${cidr}" => {
        security_group = "node", from = 22, to = 22, cidr = cidr
        description    = contains(local.world, cidr) ? "SSH from anywhere (allow_ssh_from_anywhere)" : "SSH from an admin CIDR"
      }
    },
    {
      for cidr in var.admin_cidrs : "clickhouse-http-from-${cidr}" => {
        security_group = "clickhouse", from = var.ports.clickhouse_http, to = var.ports.clickhouse_http, cidr = cidr
        description    = "ClickHouse HTTP from an admin CIDR"
      }
    },
  )
}

resource "openstack_networking_network_v2" "this" {
  name           = var.name_prefix
  admin_state_up = true
}

resource "openstack_networking_subnet_v2" "this" {
  name            = var.name_prefix
  network_id      = openstack_networking_network_v2.this.id
  cidr            = var.subnet_cidr
  ip_version      = 4
  dns_nameservers = var.dns_nameservers

  allocation_pool {
    start = cidrhost(var.subnet_cidr, local.pool_start)
    end   = cidrhost(var.subnet_cidr, -2)
  }
}

resource "openstack_networking_router_v2" "this" {
  name                = var.name_prefix
  admin_state_up      = true
  external_network_id = data.openstack_networking_network_v2.external.id
}

resource "openstack_networking_router_interface_v2" "this" {
  router_id = openstack_networking_router_v2.this.id
  subnet_id = openstack_networking_subnet_v2.this.id
}

resource "openstack_networking_secgroup_v2" "this" {
  for_each    = local.security_groups
  name        = "${var.name_prefix}-${each.key}"
  description = each.value
  # No implicit rules: what is allowed is exactly the rules below.
  delete_default_rules = true
}

# Egress: everything, to anywhere (apt, the cloud's S3 endpoint, NTP, DNS), as Neutron's default
# rules would allow; written out because the default rules are deleted above.
resource "openstack_networking_secgroup_rule_v2" "egress" {
  for_each          = { IPv4 = "0.0.0.0/0", IPv6 = "::/0" }
  security_group_id = openstack_networking_secgroup_v2.this["node"].id
  direction         = "egress"
  ethertype         = each.key
  remote_ip_prefix  = each.value
  description       = "All egress"
}

resource "openstack_networking_secgroup_rule_v2" "from_group" {
  for_each          = local.group_rules
  security_group_id = openstack_networking_secgroup_v2.this[each.value.security_group].id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value.from
  port_range_max    = each.value.to
  remote_group_id   = openstack_networking_secgroup_v2.this[each.value.remote_group].id
  description       = each.value.description
}

resource "openstack_networking_secgroup_rule_v2" "from_cidr" {
  for_each          = local.cidr_rules
  security_group_id = openstack_networking_secgroup_v2.this[each.value.security_group].id
  direction         = "ingress"
  ethertype         = strcontains(each.value.cidr, ":") ? "IPv6" : "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value.from
  port_range_max    = each.value.to
  remote_ip_prefix  = each.value.cidr
  description       = each.value.description
}
