output "endpoint" {
  description = "The S3-compatible endpoint URL (the inventory's s3_endpoint)."
  value       = var.s3_endpoint
}

output "bucket" {
  description = "The checkpoint bucket's name."
  value       = openstack_objectstorage_container_v1.checkpoints.name
}

output "region" {
  description = "The region S3 clients sign for."
  value       = var.s3_region
}

output "access_key_id" {
  description = "S3 access key id (AWS_ACCESS_KEY_ID for Ansible). Sensitive."
  value       = openstack_identity_ec2_credential_v3.s3.access
  sensitive   = true
}

output "secret_access_key" {
  description = "S3 secret key (AWS_SECRET_ACCESS_KEY for Ansible). Sensitive."
  value       = openstack_identity_ec2_credential_v3.s3.secret
  sensitive   = true
}
