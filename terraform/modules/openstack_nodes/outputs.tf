output "hosts" {
  description = "Every host in the inventory module's shape: name => {group, ansible_host, ansible_port, private_address}; ansible_host is the floating IP, or the private address without floating IPs."
  value = {
    for name, node in local.nodes : name => {
      group           = node.group
      ansible_host    = var.assign_floating_ips ? openstack_networking_floatingip_v2.node[name].address : openstack_networking_port_v2.node[name].fixed_ip[0].ip_address
      ansible_port    = 22
      private_address = openstack_networking_port_v2.node[name].fixed_ip[0].ip_address
    }
  }
}

output "instances" {
  description = "Every instance: name => {id, group, flavor, image, private_address, floating_ip, server_group, data_volume}."
  value = {
    for name, node in local.nodes : name => {
      id              = openstack_compute_instance_v2.node[name].id
      group           = node.group
      flavor          = openstack_compute_instance_v2.node[name].flavor_name
      image           = node.image
      private_address = openstack_networking_port_v2.node[name].fixed_ip[0].ip_address
      floating_ip     = try(openstack_networking_floatingip_v2.node[name].address, null)
      server_group    = try(one(openstack_compute_instance_v2.node[name].scheduler_hints).group, null)
      data_volume     = try(openstack_blockstorage_volume_v3.data[name].id, null)
    }
  }
}

output "server_groups" {
  description = "The anti-affinity server groups: inventory group => {id, name, policies}."
  value = {
    for group, server_group in openstack_compute_servergroup_v2.spread : group => {
      id       = server_group.id
      name     = server_group.name
      policies = server_group.policies
    }
  }
}

output "data_volumes" {
  description = "Data volumes: host name => {id, size_gb, device, mount_path}."
  value = {
    for name, volume in openstack_blockstorage_volume_v3.data : name => {
      id         = volume.id
      size_gb    = volume.size
      device     = local.data_devices[name]
      mount_path = local.volumes[name].data_path
    }
  }
}

output "user_data" {
  description = "The cloud-init user data of every host (no secret: a public key, a package, a mount)."
  value       = local.user_data
}
