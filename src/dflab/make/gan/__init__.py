"""A DCGAN that invents faces of people who do not exist: model, training, sampling."""
