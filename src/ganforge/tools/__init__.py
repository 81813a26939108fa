"""The companion tools: classifier trainer, style transfer, saliency maps."""
