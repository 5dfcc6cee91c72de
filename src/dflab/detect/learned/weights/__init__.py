"""Trained weights shipped as package data (see face_crop_effnet_lite0.json for how they were made)."""
