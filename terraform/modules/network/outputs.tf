output "name" {
  description = "Network name, for the other modules' network_name input."
  value       = docker_network.this.name
}

output "id" {
  description = "Docker network id."
  value       = docker_network.this.id
}
