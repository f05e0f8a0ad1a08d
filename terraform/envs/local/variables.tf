variable "name_prefix" {
  description = "Prefix of every container, volume and network name; also the stack label's value."
  type        = string
  default     = "cryptostream-local"
}

variable "docker_host" {
  description = "Docker API address; null = DOCKER_HOST or the local socket."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the project's images; null = IMAGE_TAG from docker/images.env."
  type        = string
  default     = null
}

variable "image_prefix" {
  description = "Repository prefix of the project's images; null = IMAGE_PREFIX from docker/images.env."
  type        = string
  default     = null
}

variable "clickhouse_image" {
  description = "ClickHouse image; null = the chDB-backed endpoint built here. Where a registry is reachable: clickhouse/clickhouse-server:<version>."
  type        = string
  default     = null
}

variable "kafka_broker_count" {
  description = "Kafka brokers (each also a KRaft controller)."
  type        = number
  default     = 3
}

variable "kafka_heap" {
  description = "JVM heap per broker."
  type        = string
  default     = "384m"
}

variable "kafka_memory_mb" {
  description = "Container memory limit per broker, MB."
  type        = number
  default     = 768
}

variable "spark_worker_count" {
  description = "Spark standalone workers."
  type        = number
  default     = 2
}

variable "spark_worker_cores" {
  description = "Cores each worker offers."
  type        = number
  default     = 1
}

variable "spark_worker_memory" {
  description = "Executor memory each worker offers (Spark size string)."
  type        = string
  default     = "1g"
}

variable "spark_worker_container_memory_mb" {
  description = "Container memory limit per worker, MB."
  type        = number
  default     = 2048
}

variable "clickhouse_memory_mb" {
  description = "Container memory limit of ClickHouse, MB."
  type        = number
  default     = 2048
}

variable "app_memory_mb" {
  description = "Container memory limit of the app (producer + job driver), MB."
  type        = number
  default     = 2048
}

variable "host_port_offset" {
  description = "Ports published on 127.0.0.1 are topology.yaml's ports plus this offset (so the local stack, `make up`, can run alongside). Broker n gets kafka.port + offset + n - 1."
  type        = number
  default     = 10000
}

variable "clickhouse_password" {
  description = "Password of the ClickHouse application user (TF_VAR_clickhouse_password; `make infra-apply` takes it from .state/secrets.env)."
  type        = string
  sensitive   = true
}

variable "aws_access_key_id" {
  description = "S3 access key for the checkpoints (LocalStack accepts any)."
  type        = string
  sensitive   = true
}

variable "aws_secret_access_key" {
  description = "S3 secret key for the checkpoints."
  type        = string
  sensitive   = true
}

variable "output_dir" {
  description = "Where the Ansible inventory and the endpoints file are written; null = ./generated next to this file."
  type        = string
  default     = null
}
