terraform {
  required_version = ">= 1.6.0"

  # The AWS provider is not declared yet: it is not built into the local mirror (see
  # terraform/README.md, "Staging and production"). Add it here with the AWS modules:
  #   aws = { source = "hashicorp/aws", version = "~> 6.0" }
}
