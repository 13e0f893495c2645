// The WeightFiles module: safetensors, sharded checkpoints, PEFT adapters, .npy (being written).
import LinearAlgebra
