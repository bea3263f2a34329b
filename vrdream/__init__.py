"""vrdream: seamless DeepDream on 360° photospheres and videos.

The pipeline, one module per step:
equirect/cubemap (geometry) → backbones + objective + octave + dream (engine)
→ sphere (seamless joint dreaming) → upscale (super-resolution) → photosphere (I/O).
"""

__version__ = "0.1.0"
