output "network_id" {
  description = "The private network's id."
  value       = openstack_networking_network_v2.this.id
}

output "subnet_id" {
  description = "The subnet's id; available once the subnet is attached to the router, so that floating IPs on its ports can be associated."
  value       = openstack_networking_subnet_v2.this.id
  depends_on  = [openstack_networking_router_interface_v2.this]
}

output "subnet_cidr" {
  description = "The subnet's CIDR; its lower half is for fixed host addresses."
  value       = openstack_networking_subnet_v2.this.cidr
}

output "allocation_pool" {
  description = "Neutron's allocation pool (DHCP and router ports): the subnet's upper half."
  value       = one(openstack_networking_subnet_v2.this.allocation_pool)
}

output "router_id" {
  description = "The router's id."
  value       = openstack_networking_router_v2.this.id
}

output "external_network_id" {
  description = "The external network's id (router gateway, floating IP pool)."
  value       = data.openstack_networking_network_v2.external.id
}

output "external_network_name" {
  description = "The external network's name, for the nodes module's floating_ip_pool."
  value       = var.external_network_name
}

output "security_group_ids" {
  description = "Security group ids by role: node, kafka, spark, clickhouse, app."
  value       = { for name, group in openstack_networking_secgroup_v2.this : name => group.id }
}

output "security_group_ids_by_host_group" {
  description = "The security groups of each inventory group's hosts (kafka, spark_master, spark_workers, clickhouse, app), for the nodes module."
  value = {
    for host_group, names in local.host_groups : host_group => [for name in names : openstack_networking_secgroup_v2.this[name].id]
  }
}

output "ingress_rules" {
  description = "Every ingress rule, rule name => {security_group, protocol, port_min, port_max, remote_group, remote_ip_prefix} (security groups by role name: node, kafka, spark, clickhouse, app): what the hosts accept."
  value = merge(
    {
      for name, rule in openstack_networking_secgroup_rule_v2.from_group : name => {
        security_group   = local.group_rules[name].security_group
        protocol         = rule.protocol
        port_min         = rule.port_range_min
        port_max         = rule.port_range_max
        remote_group     = local.group_rules[name].remote_group
        remote_ip_prefix = null
      }
    },
    {
      for name, rule in openstack_networking_secgroup_rule_v2.from_cidr : name => {
        security_group   = local.cidr_rules[name].security_group
        protocol         = rule.protocol
        port_min         = rule.port_range_min
        port_max         = rule.port_range_max
        remote_group     = null
        remote_ip_prefix = rule.remote_ip_prefix
      }
    },
  )
}

output "egress_rules" {
  description = "Egress rules (all traffic, IPv4 and IPv6, on the node group), rule name => {security_group, ethertype, remote_ip_prefix}."
  value = {
    for name, rule in openstack_networking_secgroup_rule_v2.egress : name => {
      security_group   = "node"
      ethertype        = rule.ethertype
      remote_ip_prefix = rule.remote_ip_prefix
    }
  }
}
