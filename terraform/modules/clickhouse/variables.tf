variable "name_prefix" {
  description = "Prefix of the container and volume names (<prefix>-clickhouse)."
  type        = string
}

variable "network_name" {
  description = "Docker network the server joins (module network)."
  type        = string
}

variable "image" {
  description = "ClickHouse image: the official clickhouse/clickhouse-server, or the chDB-backed endpoint built here (docker/images.env CLICKHOUSE_IMAGE). Both take CLICKHOUSE_USER/PASSWORD/DB and serve HTTP on http_port."
  type        = string
}

variable "user" {
  description = "The application user (topology.yaml clickhouse.user)."
  type        = string
}

variable "password" {
  description = "Password of the application user."
  type        = string
  sensitive   = true
}

variable "database" {
  description = "Database the pipeline writes to (topology.yaml clickhouse.database)."
  type        = string
}

variable "http_port" {
  description = "HTTP interface port in the container (topology.yaml clickhouse.http_port)."
  type        = number
  default     = 8123
}

variable "host_port" {
  description = "Host port publishing the HTTP interface; null publishes nothing."
  type        = number
  default     = null
}

variable "host_address" {
  description = "Host address the port is published on."
  type        = string
  default     = "127.0.0.1"
}

variable "memory_mb" {
  description = "Container memory limit in MB."
  type        = number
  default     = 2048
}

variable "healthcheck_command" {
  description = "Health check run in the container (exec form)."
  type        = list(string)
  default     = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8123/ping"]
}

variable "labels" {
  description = "Labels put on the container and the volume."
  type        = map(string)
  default     = {}
}
