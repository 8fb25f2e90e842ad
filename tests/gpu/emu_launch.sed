# emu_launch.sed - CUDA launches as calls of tests/gpu/cuda_emu.h's emulator:
#   k<T><<<grid, block, smem, stream>>>(args)  ->  cuda_emu::launch(grid, block, smem, stream)("k<T>", k<T>, args)
s/\([A-Za-z_][A-Za-z0-9_]*\(<[^<>()]*>\)\{0,1\}\)<<<\([^>]*\)>>>()/cuda_emu::launch(\3)("\1", \1)/g
s/\([A-Za-z_][A-Za-z0-9_]*\(<[^<>()]*>\)\{0,1\}\)<<<\([^>]*\)>>>(/cuda_emu::launch(\3)("\1", \1, /g
