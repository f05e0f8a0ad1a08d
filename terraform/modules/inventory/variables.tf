variable "hosts" {
  description = "Every host: inventory name => {group, ansible_host, ansible_port, private_address}."
  type = map(object({
    group           = string
    ansible_host    = string
    ansible_port    = number
    private_address = string
  }))
}

variable "parent_groups" {
  description = "Groups made of other groups, e.g. spark = [spark_master, spark_workers]."
  type        = map(list(string))
  default     = {}
}

variable "empty_groups" {
  description = "Groups listed even when no host is in them (so plays that target them find nothing to do instead of an unknown group)."
  type        = list(string)
  default     = []
}

variable "ssh_user" {
  description = "User Ansible logs in as (root on the local nodes; e.g. debian on a cloud image, with become)."
  type        = string
}

variable "ssh_private_key_file" {
  description = "Private key Ansible uses."
  type        = string
}

variable "known_hosts_file" {
  description = "The environment's known_hosts file: a host's key is accepted on first contact and checked after."
  type        = string
}

variable "vars" {
  description = "Variables for every host (environment name, endpoints, profile...)."
  type        = any
  default     = {}
}
