"""The stateless-stack Pulumi program: settings, components and pure helpers."""
