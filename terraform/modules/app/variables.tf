variable "name_prefix" {
  description = "Prefix of the container name (<prefix>-app)."
  type        = string
}

variable "network_name" {
  description = "Docker network the container joins (module network)."
  type        = string
}

variable "image" {
  description = "App image (docker/Dockerfile target app): producer, streaming job, migrations, supervisord."
  type        = string
}

variable "environment" {
  description = "Non-secret environment (endpoints, names) every program in the container inherits."
  type        = map(string)
  default     = {}
}

variable "secret_environment" {
  description = "Secret environment (passwords, keys); kept out of plan output."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "programs_dir" {
  description = "Directory whose *.conf supervisord includes; the deploy (Ansible) writes programs there."
  type        = string
  default     = "/home/cryptostream/supervisor.d"
}

variable "memory_mb" {
  description = "Container memory limit in MB (producer + the job's driver JVM)."
  type        = number
  default     = 2048
}

variable "labels" {
  description = "Labels put on the container."
  type        = map(string)
  default     = {}
}
