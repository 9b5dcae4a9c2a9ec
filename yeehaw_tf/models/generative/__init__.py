"""Generative models: the DCGAN pair, the convolutional VAE and the DDPM U-Net."""
