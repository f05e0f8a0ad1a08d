# The job's checkpoint bucket on the cloud's S3-compatible object store, and S3 credentials for
# it. On OpenStack: a Swift container (Swift's S3 API serves containers as buckets) and an EC2
# credential pair of the user and project OpenTofu runs as. The secret is sensitive: it is never
# printed, and the state holding it is encrypted (terraform/README.md, remote state).

resource "openstack_objectstorage_container_v1" "checkpoints" {
  name          = var.bucket_name
  force_destroy = var.force_destroy
  metadata = {
    purpose = "cryptostream-checkpoints"
  }
}

resource "openstack_identity_ec2_credential_v3" "s3" {}
