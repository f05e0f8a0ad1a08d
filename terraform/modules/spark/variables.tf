variable "name_prefix" {
  description = "Prefix of every container name (<prefix>-spark-master, <prefix>-spark-worker-<n>)."
  type        = string
}

variable "network_name" {
  description = "Docker network the master and workers join (module network)."
  type        = string
}

variable "image" {
  description = "Spark image (docker/Dockerfile target spark): `master` or `worker` as the command."
  type        = string
}

variable "worker_count" {
  description = "Number of standalone workers."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_count >= 1 && floor(var.worker_count) == var.worker_count
    error_message = "worker_count must be a whole number >= 1."
  }
}

variable "worker_cores" {
  description = "Cores each worker offers to executors (SPARK_WORKER_CORES)."
  type        = number
  default     = 1
}

variable "worker_memory" {
  description = "Memory each worker offers to executors (SPARK_WORKER_MEMORY, e.g. 1g)."
  type        = string
  default     = "1g"
}

variable "worker_container_memory_mb" {
  description = "Container memory limit of each worker in MB (executors + the worker daemon)."
  type        = number
  default     = 2048
}

variable "master_container_memory_mb" {
  description = "Container memory limit of the master in MB."
  type        = number
  default     = 1024
}

variable "master_port" {
  description = "Master RPC port (topology.yaml spark.master_port)."
  type        = number
  default     = 7077
}

variable "master_ui_port" {
  description = "Master web UI port in the container (topology.yaml spark.master_ui_port)."
  type        = number
  default     = 8080
}

variable "worker_ui_port" {
  description = "Worker web UI port in each container (topology.yaml spark.worker_ui_port)."
  type        = number
  default     = 8081
}

variable "master_ui_host_port" {
  description = "Host port publishing the master UI; null publishes nothing."
  type        = number
  default     = null
}

variable "host_address" {
  description = "Host address the ports are published on."
  type        = string
  default     = "127.0.0.1"
}

variable "labels" {
  description = "Labels put on every container."
  type        = map(string)
  default     = {}
}
