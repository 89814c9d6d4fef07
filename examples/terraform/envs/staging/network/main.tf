# Staging network: a smaller VPC with one subnet.
terraform {
  required_version = ">= 1.4"
}

module "label" {
  source = "../../../modules/label"
  env    = "staging"
  name   = "network"
}

resource "terraform_data" "vpc" {
  input = {
    name = module.label.id
    cidr = "10.20.0.0/16"
  }
}

resource "terraform_data" "subnet" {
  input = {
    vpc  = terraform_data.vpc.output.name
    cidr = "10.20.1.0/24"
  }
}
