"""akd: the engine (data, teachers, KD training, latency, reward, search loop)."""
