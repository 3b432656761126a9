// implemented by the core component
