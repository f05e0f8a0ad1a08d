variable "name_prefix" {
  description = "Prefix of every container and volume name; a node is <prefix>-<host_name>-<n>."
  type        = string
}

variable "network_name" {
  description = "Docker network the nodes join (they resolve each other by name on it)."
  type        = string
}

variable "image" {
  description = "Node image: Debian with systemd, sshd and python3 and nothing else (docker/Dockerfile target node)."
  type        = string
}

variable "groups" {
  description = <<-EOT
    Hosts per inventory group. For each group: `host_name` (the name's middle part), `count`,
    `memory_mb` (container limit), `data_path` (a Docker volume mounted there, the stand-in of a
    cloud block volume; null for none) and `ports` (a service port inside the node => the host
    port the group's first node publishes it on; node n publishes it on that port + n - 1).
  EOT
  type = map(object({
    host_name = string
    count     = number
    memory_mb = number
    data_path = optional(string)
    ports     = optional(map(number), {})
  }))

  validation {
    condition     = alltrue([for group in values(var.groups) : group.count >= 0 && group.count <= 16])
    error_message = "groups: every count must be between 0 and 16 (each group has 16 SSH ports)."
  }
}

variable "ssh_public_key" {
  description = "Public key put in root's authorized_keys on every node."
  type        = string
}

variable "ssh_port_base" {
  description = "Host port of the first node's SSH; each group gets a block of 16 ports from here, in the order of group names."
  type        = number
}

variable "host_address" {
  description = "Host address the SSH and service ports are published on."
  type        = string
  default     = "127.0.0.1"
}

variable "known_hosts_file" {
  description = "known_hosts file a destroyed node's host key is removed from (null: none)."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels put on every container and volume."
  type        = map(string)
  default     = {}
}
