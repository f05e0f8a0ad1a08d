variable "groups" {
  description = "The inventory groups to make a build host for, one each: the roles whose install tasks make an image's base (docker/build.sh)."
  type        = list(string)
  default     = ["kafka"]

  validation {
    condition     = length(var.groups) > 0 && alltrue([for group in var.groups : contains(["kafka", "spark_master", "spark_workers", "clickhouse", "object_storage", "app"], group)])
    error_message = "groups: one or more of kafka, spark_master, spark_workers, clickhouse, object_storage, app."
  }
}

variable "name_prefix" {
  description = "Prefix of the build hosts' container, volume and network names, and the stack label's value."
  type        = string
  default     = "cryptostream-image-build"
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

variable "memory_mb" {
  description = "Container memory limit of each build host, MB."
  type        = number
  default     = 1536
}

variable "ssh_port_base" {
  description = "Host port (on 127.0.0.1) of the first build host's SSH; a block of 16 per group."
  type        = number
  default     = 12600
}

variable "ssh_key_dir" {
  description = "Where the build hosts' SSH key pair and known_hosts live (outside the repository)."
  type        = string
}

variable "output_dir" {
  description = "Where the inventory is written."
  type        = string
}

variable "apt_proxy_port" {
  description = "Port of the Debian package cache on this machine (apt-cacher-ng, `make apt-cache`), reached at the network's gateway; null = none."
  type        = number
  default     = 3142
}
