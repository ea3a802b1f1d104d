"""The platform the domain stands on: settings, storage, migrations, job and event transports, embeddings,
secrets. Nothing here knows a domain rule; the domain modules one level up hold them."""
