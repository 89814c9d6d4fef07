# A service: its label, its settings and a number of replicas.
variable "env" {
  type = string
}

variable "name" {
  type = string
}

variable "image" {
  type = string
}

variable "replicas" {
  type    = number
  default = 1
}

module "label" {
  source = "../label"
  env    = var.env
  name   = var.name
}

resource "terraform_data" "settings" {
  input = {
    service = module.label.id
    image   = var.image
  }
}

resource "terraform_data" "replica" {
  count = var.replicas
  input = "${module.label.id}-${count.index}"
}

output "id" {
  value = module.label.id
}
