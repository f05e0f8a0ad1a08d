output "nodes" {
  description = "Every node: name => {group, ssh_host, ssh_port, private_address, ports (service port => host port)}."
  value = {
    for name, node in local.nodes : name => {
      group           = node.group
      ssh_host        = var.host_address
      ssh_port        = node.ssh_port
      private_address = docker_container.node[name].network_data[0].ip_address
      ports           = node.ports
    }
  }
}

output "volume_names" {
  description = "Data volumes, node name => volume name."
  value       = { for name, volume in docker_volume.data : name => volume.name }
}
