variable "environment" {
  description = "The environment's name, recorded in the inventory (cryptostream_env) and in every deployment's manifest; null = the workspace's name (\"local\" for the default workspace)."
  type        = string
  default     = null

  validation {
    condition     = var.environment == null || can(regex("^[a-z][a-z0-9-]{0,30}$", var.environment))
    error_message = "environment must be lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "name_prefix" {
  description = "Prefix of every container, volume and network name, and the stack label's value; null = cryptostream-<environment>."
  type        = string
  default     = null
}

variable "docker_host" {
  description = "Docker API address; null = DOCKER_HOST or the local socket."
  type        = string
  default     = null
}

variable "node_image" {
  description = "The node image (systemd + sshd + python3); null = <IMAGE_PREFIX>/node:<IMAGE_TAG> from docker/images.env."
  type        = string
  default     = null
}

variable "kafka_broker_count" {
  description = "Kafka brokers; each is also a KRaft controller, so the count is the quorum size and must be odd."
  type        = number
  default     = 3

  validation {
    condition     = var.kafka_broker_count >= 1 && var.kafka_broker_count % 2 == 1
    error_message = "kafka_broker_count must be odd and at least 1 (the brokers form the KRaft quorum)."
  }
}

variable "spark_worker_count" {
  description = "Spark standalone workers."
  type        = number
  default     = 2

  validation {
    condition     = var.spark_worker_count >= 1
    error_message = "spark_worker_count must be at least 1."
  }
}

variable "memory_mb" {
  description = "Container memory limit per host of each group, MB."
  type = object({
    kafka          = optional(number, 1024)
    spark_master   = optional(number, 1024)
    spark_workers  = optional(number, 2048)
    clickhouse     = optional(number, 2048)
    object_storage = optional(number, 1024)
    app            = optional(number, 2560)
  })
  default = {}
}

variable "kafka_security_profile" {
  description = "plaintext (no TLS, no authentication) or sasl_ssl (SCRAM-SHA-512 over TLS); handed to Ansible in the inventory."
  type        = string
  default     = "plaintext"

  validation {
    condition     = contains(["plaintext", "sasl_ssl"], var.kafka_security_profile)
    error_message = "kafka_security_profile must be plaintext or sasl_ssl."
  }
}

variable "ssh_port_base" {
  description = "Host port (on 127.0.0.1) of the first node's SSH; a block of 16 ports per group follows."
  type        = number
  default     = 12200
}

variable "host_port_offset" {
  description = "ClickHouse HTTP, the Spark master UI and LocalStack S3 are published on 127.0.0.1 at topology.yaml's ports plus this offset (so the local stack, `make up`, can run alongside)."
  type        = number
  default     = 10000
}

variable "ssh_key_dir" {
  description = "Where the environment's SSH key pair and known_hosts live (outside the repository); null = ~/.cache/cryptostream/ssh/<name_prefix>."
  type        = string
  default     = null
}

variable "output_dir" {
  description = "Where the Ansible inventory and the endpoints file are written; null = ./generated/<environment> next to this file."
  type        = string
  default     = null
}

variable "apt_proxy_port" {
  description = "Port of the Debian package cache on this machine (apt-cacher-ng, `make apt-cache`) that the nodes use as their apt proxy, reached at the network's gateway; null = no cache, each node downloads for itself."
  type        = number
  default     = 3142
}
