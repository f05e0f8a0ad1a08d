variable "name" {
  description = "Name of the Docker network all the stack's containers join."
  type        = string
}

variable "labels" {
  description = "Labels put on the network (used to find everything an environment created)."
  type        = map(string)
  default     = {}
}
