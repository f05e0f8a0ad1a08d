output "private_key_file" {
  description = "Path of the private key (mode 600), for the inventory's ansible_ssh_private_key_file."
  value       = terraform_data.key_pair.output.private_key
}

output "public_key" {
  description = "The public key, for the hosts' authorized_keys."
  value       = trimspace(data.local_file.public_key.content)
}

output "known_hosts_file" {
  description = "Path of the environment's known_hosts file (hosts' keys are accepted on first contact)."
  value       = "${terraform_data.key_pair.output.directory}/known_hosts"
}
