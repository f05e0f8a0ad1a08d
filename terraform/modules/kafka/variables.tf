variable "name_prefix" {
  description = "Prefix of every container and volume name (<prefix>-kafka-<n>)."
  type        = string
}

variable "network_name" {
  description = "Docker network the brokers join (module network)."
  type        = string
}

variable "image" {
  description = "Kafka image (docker/Dockerfile target kafka): KRaft, configured by KAFKA_CFG_* variables."
  type        = string
}

variable "broker_count" {
  description = "Number of brokers; each is also a KRaft controller (a quorum needs an odd count)."
  type        = number
  default     = 3

  validation {
    condition     = var.broker_count >= 1 && floor(var.broker_count) == var.broker_count
    error_message = "broker_count must be a whole number >= 1."
  }
}

variable "partitions" {
  description = "Default partition count of new topics (topology.yaml kafka.partitions)."
  type        = number
  default     = 3
}

variable "replication_factor" {
  description = "Replication of topics and internal topics; null = min(3, broker_count)."
  type        = number
  default     = null
}

variable "min_insync_replicas" {
  description = "min.insync.replicas; null = replication_factor - 1 (at least 1)."
  type        = number
  default     = null
}

variable "client_port" {
  description = "Listener the other containers use (<broker>:<port>) (topology.yaml kafka.port)."
  type        = number
  default     = 9092
}

variable "controller_port" {
  description = "KRaft controller listener (topology.yaml kafka.controller_port)."
  type        = number
  default     = 9093
}

variable "host_listener_port" {
  description = "Container port of the listener advertised to the host as <host_address>:<host port>."
  type        = number
  default     = 9094
}

variable "host_ports" {
  description = "Host port per broker for clients on the host; [] publishes nothing."
  type        = list(number)
  default     = []
}

variable "host_address" {
  description = "Host address the ports are published on."
  type        = string
  default     = "127.0.0.1"
}

variable "heap" {
  description = "JVM heap of each broker (KAFKA_HEAP)."
  type        = string
  default     = "512m"
}

variable "memory_mb" {
  description = "Container memory limit of each broker, in MB."
  type        = number
  default     = 1024
}

variable "cluster_id" {
  description = "KRaft cluster id (22 base64url characters); null = derived from name_prefix, stable across applies."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels put on every container and volume."
  type        = map(string)
  default     = {}
}
