"""What more than one service needs of the providers: the guarded download client (both workers)
and the offline prompt variants (the API, at task creation). Image providers live in
`lumi_image_worker.providers`, 3D providers and mesh formats in `lumi_model_worker.providers`."""
