variable "bucket_name" {
  description = "The checkpoint bucket: a Swift container, which is a bucket through the cloud's S3 API."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens."
  }
}

variable "s3_endpoint" {
  description = "The cloud's S3-compatible endpoint URL (Swift's s3api or Ceph RGW), e.g. https://s3.example-cloud.net. It is the provider's, not made here."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/\\s]+", var.s3_endpoint))
    error_message = "s3_endpoint must be an http(s) URL such as https://s3.example-cloud.net."
  }
}

variable "s3_region" {
  description = "Region the S3 clients sign requests for (Swift's s3api accepts its configured location, us-east-1 by default)."
  type        = string
}

variable "force_destroy" {
  description = "Let `tofu destroy` delete the container with the checkpoints in it (false: destroy fails while it holds objects)."
  type        = bool
  default     = false
}
