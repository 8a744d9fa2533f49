"""The plugin API: the hook contract (hookspecs), what a policy plugin declares
(policy), the object model a policy may use (model), how plugins are found and
loaded (plugin_manager), and the test kit for policy authors (testing, with its
pytest fixture in pytest_plugin).
"""
