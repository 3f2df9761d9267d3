from janus_core.cli.main import main

main()
