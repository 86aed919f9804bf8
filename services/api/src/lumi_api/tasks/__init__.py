"""Generation tasks: a prompt, its four candidate images, and the model made from one."""
