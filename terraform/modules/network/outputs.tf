output "name" {
  description = "Network name, for the other modules' network_name input."
  value       = docker_network.this.name
}

output "id" {
  description = "Docker network id."
  value       = docker_network.this.id
}

output "gateway" {
  description = "The network's gateway: the Docker host's address as the containers see it."
  value       = tolist(docker_network.this.ipam_config)[0].gateway
}
