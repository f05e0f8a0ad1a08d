# The checkpoint bucket and its credentials against a mocked OpenStack.
#   tofu -chdir=terraform/modules/openstack_object_storage init && tofu -chdir=terraform/modules/openstack_object_storage test

mock_provider "openstack" {
  mock_resource "openstack_identity_ec2_credential_v3" {
    defaults = { access = "AKIAMOCK", secret = "mock-secret" }
  }
}

variables {
  bucket_name = "cryptostream-checkpoints-tftest"
  s3_endpoint = "https://s3.example-cloud.net"
  s3_region   = "us-east-1"
}

run "bucket_and_credentials" {
  assert {
    condition     = output.bucket == var.bucket_name && output.endpoint == var.s3_endpoint && output.region == "us-east-1"
    error_message = "the bucket is the container named for it, at the given endpoint"
  }
  assert {
    condition     = output.access_key_id == "AKIAMOCK" && output.secret_access_key == "mock-secret"
    error_message = "the credentials are the EC2 credential pair"
  }
  assert {
    condition     = !openstack_objectstorage_container_v1.checkpoints.force_destroy
    error_message = "checkpoints must not be deleted by a destroy unless asked"
  }
}

run "the_example_plans" {
  module {
    source = "./examples/basic"
  }
  assert {
    condition     = output.bucket == "cryptostream-checkpoints-example"
    error_message = "the example names the bucket from topology.yaml"
  }
}

run "bad_names_are_refused" {
  command = plan
  variables {
    bucket_name = "Checkpoints_Bucket"
    s3_endpoint = "s3.example-cloud.net"
  }
  expect_failures = [var.bucket_name, var.s3_endpoint]
}
