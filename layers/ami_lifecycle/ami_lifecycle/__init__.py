"""AMI lifecycle automation: policy, inventory, planner, actions and executor shared by the Lambda handlers."""
