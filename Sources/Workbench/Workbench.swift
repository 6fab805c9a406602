// Workbench module
