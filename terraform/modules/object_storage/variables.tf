variable "name_prefix" {
  description = "Prefix of the container and volume names (<prefix>-localstack)."
  type        = string
}

variable "network_name" {
  description = "Docker network the container joins (module network)."
  type        = string
}

variable "image" {
  description = "LocalStack image (docker/Dockerfile target localstack): S3, STS and IAM."
  type        = string
}

variable "port" {
  description = "S3 endpoint port in the container (topology.yaml object_storage.port)."
  type        = number
  default     = 4566
}

variable "host_port" {
  description = "Host port publishing the S3 endpoint; null publishes nothing."
  type        = number
  default     = null
}

variable "host_address" {
  description = "Host address the port is published on."
  type        = string
  default     = "127.0.0.1"
}

variable "region" {
  description = "Region the endpoint reports (topology.yaml object_storage.region)."
  type        = string
  default     = "us-east-1"
}

variable "bucket" {
  description = "Checkpoint bucket name (topology.yaml object_storage.checkpoint_bucket); the deploy creates it."
  type        = string
}

variable "memory_mb" {
  description = "Container memory limit in MB."
  type        = number
  default     = 1024
}

variable "labels" {
  description = "Labels put on the container and the volume."
  type        = map(string)
  default     = {}
}
